package rpgnet

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const tinyCfg = "[net]\nbatch=2\nwidth=6\nheight=6\nchannels=2\nseed=5\n" +
	"[ring]\nname=r\nsize=300\nseed=11\n" +
	"[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n" +
	"[convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=relu\nring=r\n" +
	"[connected]\noutput=3\nactivation=linear\nring=r\n" +
	"[softmax]\n"

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The repository root: the tests read cfg/ from there.
func init() { _ = os.Chdir("../..") }

// A ring and generators bound as the cfg binds its layers reproduce the C library's generated
// network weights bit for bit; with every ring value 1 each weight is +-c.
func TestGeneratorMatchesLibrary(t *testing.T) {
	net, err := NewNetworkFromText(tinyCfg, "")
	must(t, err)
	defer net.Close()
	k, err := net.RingSize(0)
	must(t, err)
	seed, err := net.RingSeed(0)
	must(t, err)
	ring, err := NewRing(k, seed)
	must(t, err)
	defer ring.Close()
	fanOut := []int64{8 * 9, 4, 3}
	gens := make([]*Generator, 3)
	for l := range gens {
		w, err := net.LayerWeights(int32(l))
		must(t, err)
		gens[l], err = ring.Generator(int64(len(w)), fanOut[l], Append)
		must(t, err)
		defer gens[l].Close()
	}
	must(t, ring.InitHe())
	rv, nv := make([]float32, k), make([]float32, k)
	must(t, ring.Values(rv))
	must(t, net.RingValues(0, nv))
	for i := range rv {
		if rv[i] != nv[i] {
			t.Fatalf("ring value %d: %v != %v", i, rv[i], nv[i])
		}
	}
	var bound int64
	for l, g := range gens {
		want, err := net.LayerWeights(int32(l))
		must(t, err)
		got := make([]float32, len(want))
		must(t, g.Generate(got))
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("layer %d weight %d: %v != %v", l, i, got[i], want[i])
			}
		}
		bound += int64(len(got))
	}
	pos, err := ring.Positions()
	must(t, err)
	if pos != bound {
		t.Fatalf("positions %d, bound %d", pos, bound)
	}
	ones := make([]float32, k)
	for i := range ones {
		ones[i] = 1
	}
	must(t, ring.SetValues(ones))
	c, err := gens[1].Scale()
	must(t, err)
	if math.Abs(float64(c)-math.Sqrt(72.0/4.0)) > 1e-5 {
		t.Fatalf("scale %v", c)
	}
	w := make([]float32, 32)
	must(t, gens[1].Generate(w))
	for _, x := range w {
		if math.Abs(math.Abs(float64(x))-float64(c)) > 1e-6 {
			t.Fatalf("weight %v, scale %v", x, c)
		}
	}
	// Generators read the ring from several goroutines at once (allowed by the C API).
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, 32)
			for j := 0; j < 50; j++ {
				if err := gens[1].Generate(buf); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTrainExportReloadPredict(t *testing.T) {
	dir := t.TempDir()
	net, err := NewNetwork("cfg/fashion-resnet-rpg.cfg",
		"net.batch=32\nnet.max_batches=6\nnet.burn_in=0\nnet.policy=constant\nnet.learning_rate=0.05")
	must(t, err)
	defer net.Close()
	must(t, net.SetThreads(2))
	if p, _ := net.ParamCount(); p != 169834 {
		t.Fatalf("params %d", p)
	}
	tr, err := NewTrainer(net, "cfg/fashion.data")
	must(t, err)
	must(t, tr.SetBackupDir(dir))
	must(t, tr.SetCheckpointEvery(0))
	if m, _ := tr.MaxUpdates(); m != 6 {
		t.Fatalf("max updates %d", m)
	}
	losses := make([]float64, 6)
	for u := 1; u <= 6; u++ { // one update per run: the run's average is its loss
		must(t, tr.SetStopAt(int64(u)))
		_, err := tr.Run()
		must(t, err)
		losses[u-1], err = tr.AvgLoss()
		must(t, err)
	}
	tr.Close()
	t.Logf("losses %v", losses)
	if !(losses[4]+losses[5] < losses[0]+losses[1]) {
		t.Fatalf("loss does not fall: %v", losses)
	}
	if c, _ := net.UpdateCount(); c != 6 {
		t.Fatalf("updates %d", c)
	}
	opts, err := NewExportOptions()
	must(t, err)
	defer opts.Close()
	must(t, opts.SetBits(8))
	path := filepath.Join(dir, "model.rpgm")
	must(t, net.Export(opts, path))
	b, err := net.ExportBytes(opts)
	must(t, err)
	if len(b) == 0 || len(b) > 40000 {
		t.Fatalf("export of %d bytes", len(b))
	}
	loaded, err := LoadExport(path)
	must(t, err)
	defer loaded.Close()
	fromBytes, err := LoadExportBytes(b)
	must(t, err)
	defer fromBytes.Close()
	for _, n := range []*Network{net, loaded, fromBytes} {
		must(t, n.SetBatch(16))
	}
	x := make([]float32, 16*784)
	for i := range x {
		x[i] = float32(0.5 + 0.5*math.Sin(0.001*float64(i*i)))
	}
	p, q, r := make([]float32, 160), make([]float32, 160), make([]float32, 160)
	must(t, net.Predict(x, p))
	must(t, loaded.Predict(x, q))
	must(t, fromBytes.Predict(x, r))
	maxDiff := 0.0
	for i := range p {
		maxDiff = math.Max(maxDiff, math.Abs(float64(p[i]-q[i])))
		if q[i] != r[i] {
			t.Fatalf("file and bytes exports differ at %d", i)
		}
	}
	if maxDiff >= 0.1 {
		t.Fatalf("8-bit export: max |dp| %v", maxDiff)
	}
}

func TestBadCfgIsAnError(t *testing.T) {
	_, err := NewNetworkFromText("[net]\nbatch=1\nwidth=0\n[bogus]\n", "")
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusParseError || !strings.Contains(e.Message, "<text>") {
		t.Fatalf("got %#v", err)
	}
	_, err = NewNetwork("no/such.cfg", "")
	if !errors.As(err, &e) || e.Status != StatusNotFound || !strings.Contains(e.Message, "no/such.cfg") {
		t.Fatalf("got %#v", err)
	}
	ring, err := NewRing(16, 3)
	must(t, err)
	if err := ring.SetValues(make([]float32, 15)); !errors.As(err, &e) || e.Status != StatusInvalidArgument {
		t.Fatalf("got %#v", err)
	}
	ring.Close()
	ring.Close()
	if _, err := ring.Size(); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

// Messages stay with their goroutine: many goroutines fail with distinct messages at once.
func TestErrorsPerGoroutine(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := filepath.Join("no", "such", strings.Repeat("x", i+1)+".cfg")
			for j := 0; j < 50; j++ {
				_, err := NewNetwork(name, "")
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Message, name) {
					t.Errorf("goroutine %d got %v", i, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
}

// int8 exports (issue 17): calibrated on the tiny IDX data set, loaded back they run int8 (from
// a file and from bytes), or float32 with LoadFloat32; both predict alike. Loose bound: 0.01 on
// softmax outputs (seen: ~4e-4). (A convolution feeding the connected layer directly was
// misread in int8 before a fix: 0.05-0.16.)
func TestInt8ExportInt8AndFloat32(t *testing.T) {
	data := writeCycleData(t)
	net, err := NewNetworkFromText(modelCfg, "")
	must(t, err)
	defer net.Close()
	opts, err := NewExportOptions()
	must(t, err)
	defer opts.Close()
	var e *Error
	if err := opts.SetInt8(data, 0); !errors.As(err, &e) || e.Status != StatusInvalidArgument {
		t.Fatalf("batches 0: got %#v", err)
	}
	must(t, opts.SetInt8(data, 2))
	path := filepath.Join(t.TempDir(), "int8.rpgm")
	must(t, net.Export(opts, path))
	b, err := net.ExportBytes(opts)
	must(t, err)
	if _, err := LoadExportFlags(path, 2); !errors.As(err, &e) || e.Status != StatusInvalidArgument {
		t.Fatalf("unknown flag: got %#v", err)
	}
	load := func(fromBytes bool, flags uint32) *Network {
		t.Helper()
		var n *Network
		if fromBytes {
			n, err = LoadExportBytesFlags(b, flags)
		} else if flags == 0 {
			n, err = LoadExport(path)
		} else {
			n, err = LoadExportFlags(path, flags)
		}
		must(t, err)
		return n
	}
	x := make([]float32, 8*64)
	for i := range x {
		x[i] = float32((i%64*7+i/64*31)&0xff) / 255 // the calibration images
	}
	predict := func(n *Network, int8 bool) []float32 {
		t.Helper()
		defer n.Close()
		layers, err := n.Int8Layers()
		must(t, err)
		if int8 != (layers > 0) {
			t.Fatalf("int8 %v but %d int8 layers", int8, layers)
		}
		y := make([]float32, 8*3)
		must(t, n.Predict(x, y))
		return y
	}
	y8, y32 := predict(load(false, 0), true), predict(load(false, LoadFloat32), false)
	b8, b32 := predict(load(true, 0), true), predict(load(true, LoadFloat32), false)
	maxDiff := 0.0
	for i := range y8 {
		maxDiff = math.Max(maxDiff, math.Abs(float64(y8[i]-y32[i])))
		if y8[i] != b8[i] || y32[i] != b32[i] {
			t.Fatalf("file and bytes exports differ at %d", i)
		}
	}
	t.Logf("int8 against float32: max |dp| %v", maxDiff)
	if maxDiff >= 0.01 {
		t.Fatalf("int8 against float32: max |dp| %v", maxDiff)
	}
	must(t, opts.SetInt8("", 0)) // int8 off again: a plain export runs float32
	must(t, net.Export(opts, path))
	predict(load(false, 0), false)
}
