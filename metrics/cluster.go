package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/gitopskit/cluster"
)

// clusterCollector exposes a Cluster's request counts.
type clusterCollector struct {
	cluster *cluster.Cluster
	desc    *prometheus.Desc
}

// NewClusterCollector returns a collector of c's API requests
// ([cluster.Cluster.Requests]) as [APIRequestsTotal]{verb, code}, with
// constLabels (such as a cluster name). [New] registers one for
// [Options.Cluster]; use this one for a cluster no Recorder is given.
func NewClusterCollector(c *cluster.Cluster, constLabels prometheus.Labels) prometheus.Collector {
	return &clusterCollector{cluster: c, desc: prometheus.NewDesc(APIRequestsTotal,
		"The requests made to the Kubernetes API server by verb and HTTP status code (0: no response).",
		[]string{"verb", "code"}, constLabels)}
}

func sameCluster(col prometheus.Collector, c *cluster.Cluster) bool {
	cc, ok := col.(*clusterCollector)
	return ok && cc.cluster == c
}

// Describe implements [prometheus.Collector].
func (cc *clusterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cc.desc }

// Collect implements [prometheus.Collector].
func (cc *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range cc.cluster.Requests() {
		ch <- prometheus.MustNewConstMetric(cc.desc, prometheus.CounterValue, float64(n), k.Verb, strconv.Itoa(k.Code))
	}
}
