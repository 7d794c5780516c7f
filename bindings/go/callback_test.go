package rpgnet

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const callbackCfg = "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=1\nlearning_rate=0.01\nmax_batches=50\n" +
	"min_crop=8\nmax_crop=8\nflip=0\nseed=3\n[ring]\nname=r\nsize=16\n" +
	"[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=relu\nring=r\n" +
	"[connected]\noutput=3\nactivation=linear\n[softmax]\n"

// tinyTrainer: the network of callbackCfg and a trainer on 16 random 8x8 images of 3 classes
// (IDX files in a temporary folder), reporting every update.
func tinyTrainer(t *testing.T) (*Network, *Trainer) {
	t.Helper()
	dir := t.TempDir()
	images := append([]byte{0, 0, 8, 3, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0, 8}, make([]byte, 16*64)...)
	labels := []byte{0, 0, 8, 1, 0, 0, 0, 16}
	r := rand.New(rand.NewSource(1))
	for i := 16; i < len(images); i++ {
		images[i] = byte(r.Intn(256))
	}
	for i := 0; i < 16; i++ {
		labels = append(labels, byte(i%3))
	}
	must(t, os.WriteFile(filepath.Join(dir, "images"), images, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "labels"), labels, 0o644))
	data := filepath.Join(dir, "tiny.data")
	must(t, os.WriteFile(data, []byte(fmt.Sprintf("classes = 3\ntrain = idx:%s,%s\nbackup = %s\n",
		filepath.Join(dir, "images"), filepath.Join(dir, "labels"), filepath.Join(dir, "backup"))), 0o644))
	net, err := NewNetworkFromText(callbackCfg, "")
	must(t, err)
	tr, err := NewTrainer(net, data)
	must(t, err)
	must(t, tr.SetCheckpointEvery(0))
	must(t, tr.SetReportEvery(1))
	t.Cleanup(func() { tr.Close(); net.Close() })
	return net, tr
}

func TestProgressCallbackStopsTheRun(t *testing.T) {
	net, tr := tinyTrainer(t)
	var seen []int64
	tr.OnProgress(func(p Progress) bool {
		if p.MaxUpdates != 50 {
			t.Errorf("MaxUpdates %d", p.MaxUpdates)
		}
		seen = append(seen, p.Update)
		return p.Update >= 2
	})
	finished, err := tr.Run()
	must(t, err)
	updates, err := net.UpdateCount()
	must(t, err)
	if finished || (updates != 2 && updates != 3) {
		t.Fatalf("finished %v after %d updates; expected a stop after update 2 or 3", finished, updates)
	}
	if len(seen) < 2 || seen[0] != 1 || seen[1] != 2 {
		t.Fatalf("progress at updates %v", seen)
	}
}

// A panic in the progress callback stops the run and comes back from Run as a *CallbackPanic;
// the process and the trainer go on.
func TestProgressCallbackPanicComesBackFromRun(t *testing.T) {
	net, tr := tinyTrainer(t)
	boom := errors.New("boom")
	tr.OnProgress(func(p Progress) bool {
		if p.Update == 2 {
			panic(boom)
		}
		return false
	})
	_, err := tr.Run()
	var cp *CallbackPanic
	if !errors.As(err, &cp) || cp.Callback != "progress" || cp.Value != boom || cp.CallErr != nil {
		t.Fatalf("Run returned %v, expected the progress callback's panic", err)
	}
	if !errors.Is(err, boom) || !strings.Contains(string(cp.Stack), "callback_test.go") {
		t.Fatalf("the panic's value or stack is lost: %v\n%s", err, cp.Stack)
	}
	updates, err := net.UpdateCount()
	must(t, err)
	if updates < 2 || updates > 3 {
		t.Fatalf("the panic did not stop the run: %d updates", updates)
	}
	tr.OnProgress(nil)
	must(t, tr.SetStopAt(updates+2))
	_, err = tr.Run()
	must(t, err)
	if after, _ := net.UpdateCount(); after != updates+2 {
		t.Fatalf("a second run ended at %d, expected %d", after, updates+2)
	}
}

func TestLogCallbackGetsTheRunsLinesAndItsPanicComesBackFromRun(t *testing.T) {
	defer SetLogCallback(LogWarning, nil)
	_, tr := tinyTrainer(t)
	var mu sync.Mutex
	var lines []string
	must(t, SetLogCallback(LogInfo, func(level int32, message string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, message)
	}))
	must(t, tr.SetStopAt(2))
	_, err := tr.Run()
	must(t, err)
	found := false
	for _, l := range lines {
		found = found || strings.HasPrefix(l, "update 2/50 ")
	}
	if !found {
		t.Fatalf("log lines %q", lines)
	}
	must(t, SetLogCallback(LogInfo, func(int32, string) { panic("log boom") }))
	must(t, tr.SetStopAt(4))
	_, err = tr.Run()
	var cp *CallbackPanic
	if !errors.As(err, &cp) || cp.Callback != "log" || cp.Value != "log boom" {
		t.Fatalf("Run returned %v, expected the log callback's panic", err)
	}
}

// A failed call logs at DEBUG; a panic in the log callback then comes back with the call's own
// error in CallErr.
func TestLogCallbackPanicInAFailedCall(t *testing.T) {
	defer SetLogCallback(LogWarning, nil)
	must(t, SetLogCallback(LogDebug, func(int32, string) { panic("log boom") }))
	_, err := NewNetwork("no/such.cfg", "")
	var cp *CallbackPanic
	var e *Error
	if !errors.As(err, &cp) || !errors.As(cp.CallErr, &e) || e.Status != StatusNotFound {
		t.Fatalf("NewNetwork returned %v, expected the log callback's panic with NOT_FOUND", err)
	}
}
