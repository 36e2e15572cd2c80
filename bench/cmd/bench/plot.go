package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var palette = []color.RGBA{
	{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}, // gitopskit
	{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff},
	{R: 0x75, G: 0x70, B: 0xb3, A: 0xff},
	{R: 0xe7, G: 0x29, B: 0x8a, A: 0xff},
	{R: 0x66, G: 0xa6, B: 0x1e, A: 0xff},
	{R: 0x66, G: 0x66, B: 0x66, A: 0xff},
	{R: 0xa6, G: 0x76, B: 0x1d, A: 0xff},
}

// writePlot draws time vs object count for first apply and no-op, one line
// per tool (log-log), side by side.
func (b *bench) writePlot(path string) error {
	tools := b.columns("apply")
	var plots [][]*plot.Plot
	var row []*plot.Plot
	for _, sc := range []string{scFirst, scNoop} {
		pl := plot.New()
		pl.Title.Text = sc
		pl.X.Label.Text = "objects"
		pl.Y.Label.Text = "seconds (median)"
		pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
		pl.X.Tick.Marker, pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
		pl.Legend.Top, pl.Legend.Left = true, true
		pl.Add(plotter.NewGrid())
		for i, t := range tools {
			var pts plotter.XYs
			for _, n := range b.cfg.plotSizes {
				if st, ok := b.res.get(sc, t, n); ok {
					pts = append(pts, plotter.XY{X: float64(n), Y: st.median.Seconds()})
				}
			}
			if len(pts) < 2 { // tools measured at one size only are in the table
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			c := palette[i%len(palette)]
			line.Color, points.Color = c, c
			line.Width = vg.Points(1.5)
			if t == "gitopskit" {
				line.Width = vg.Points(3)
			}
			if len(t) > 5 && t[:5] == "bound" {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			points.Shape = draw.CircleGlyph{}
			pl.Add(line, points)
			pl.Legend.Add(t, line, points)
		}
		row = append(row, pl)
	}
	plots = append(plots, row)
	const width, height = 13 * vg.Inch, 5.5 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for j := range plots[0] {
		plots[0][j].Draw(canvases[0][j])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
