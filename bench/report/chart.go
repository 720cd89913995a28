package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strings"
)

type swatch struct {
	name string
	c    color.RGBA
}

// palette colours the setups in table order; the names go into the
// Markdown legend, since the chart carries no text (no font package is in
// the module graph, and one is not worth adding for labels).
func palette() []swatch {
	return []swatch{
		{"grey", color.RGBA{0x80, 0x80, 0x80, 0xff}},
		{"blue", color.RGBA{0x1f, 0x77, 0xb4, 0xff}},
		{"green", color.RGBA{0x2c, 0xa0, 0x2c, 0xff}},
		{"orange", color.RGBA{0xff, 0x7f, 0x0e, 0xff}},
		{"purple", color.RGBA{0x94, 0x67, 0xbd, 0xff}},
		{"brown", color.RGBA{0x8c, 0x56, 0x4b, 0xff}},
	}
}

func colourOf(i int) color.RGBA { p := palette(); return p[i%len(p)].c }

func legend(setups []Setup) string {
	var parts []string
	p := palette()
	for i, s := range setups {
		parts = append(parts, fmt.Sprintf("%s %s", s.Label, p[i%len(p)].name))
	}
	if len(parts) == 0 {
		return "none measured"
	}
	return strings.Join(parts, ", ")
}

// Chart draws two panels of bars, throughput and connections per second,
// each scaled to its largest bar, with a faint line every tenth of it.
func (r *Results) Chart(w io.Writer) error {
	const (
		width, height = 800, 400
		margin        = 30
	)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	panelW := (width - 3*margin) / 2
	metrics := []func(Setup) float64{
		func(s Setup) float64 { return s.ThroughputMbps },
		func(s Setup) float64 { return s.ConnPerSec },
	}
	for p, metric := range metrics {
		x0 := margin + p*(panelW+margin)
		panel := image.Rect(x0, margin, x0+panelW, height-margin)
		top := 0.0
		for _, s := range r.E2E {
			if s.Available {
				top = max(top, metric(s))
			}
		}
		grid := color.RGBA{0xe0, 0xe0, 0xe0, 0xff}
		for i := 1; i <= 10; i++ {
			y := panel.Max.Y - panel.Dy()*i/10
			draw.Draw(img, image.Rect(panel.Min.X, y, panel.Max.X, y+1), image.NewUniform(grid), image.Point{}, draw.Src)
		}
		draw.Draw(img, image.Rect(panel.Min.X, panel.Max.Y, panel.Max.X, panel.Max.Y+2), image.NewUniform(color.Black), image.Point{}, draw.Src)
		draw.Draw(img, image.Rect(panel.Min.X-2, panel.Min.Y, panel.Min.X, panel.Max.Y+2), image.NewUniform(color.Black), image.Point{}, draw.Src)
		n := len(r.E2E)
		if n == 0 || top <= 0 {
			continue
		}
		slot := panel.Dx() / n
		for i, s := range r.E2E {
			if !s.Available {
				continue
			}
			h := int(float64(panel.Dy()) * metric(s) / top)
			bx := panel.Min.X + i*slot + slot/6
			bar := image.Rect(bx, panel.Max.Y-h, bx+slot*2/3, panel.Max.Y)
			draw.Draw(img, bar, image.NewUniform(colourOf(i)), image.Point{}, draw.Src)
		}
	}
	return png.Encode(w, img)
}
