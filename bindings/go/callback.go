package rpgnet

/*
#include <stdint.h>
extern int32_t rpgnetGoProgress(int64_t, int64_t, double, double, double, float, double, void*);
extern void rpgnetGoLog(int32_t, char*, void*);
static uintptr_t rpgnet_progress_fn(void) { return (uintptr_t)&rpgnetGoProgress; }
static uintptr_t rpgnet_log_fn(void) { return (uintptr_t)&rpgnetGoLog; }
*/
import "C"

import (
	"runtime/cgo"
	"sync"

	"rpgnet.org/rpgnet/raw"
)

// CallbackPanic is a panic inside a log or progress callback: recovered before it reaches C,
// it is returned by the call during which it happened (Trainer.Run for progress; errors.As).
type CallbackPanic = raw.CallbackPanic

// Progress is what a progress callback gets every report-every updates and at the last one.
type Progress struct {
	Update, MaxUpdates   int64   // updates done, updates of the whole run
	Epoch, Loss, AvgLoss float64 // epochs done, loss per image of this update, its moving average
	LearningRate         float32
	ImagesPerSecond      float64
}

// Log levels (capi/rpgnet.h RPG_LOG_*); LogOff silences everything.
const (
	LogDebug   int32 = 0 // every failed call, with its message
	LogInfo    int32 = 1 // training progress, loaded files
	LogWarning int32 = 2
	LogError   int32 = 3
	LogOff     int32 = 4
)

var (
	logMu   sync.RWMutex
	logFunc func(level int32, message string)
)

// SetLogCallback sends the library's messages at minLevel and above to f, process-wide, on the
// goroutine whose call produced them; f nil restores the default (stderr). A panic in f is
// returned by that call as a *CallbackPanic.
func SetLogCallback(minLevel int32, f func(level int32, message string)) error {
	logMu.Lock()
	logFunc = f
	logMu.Unlock()
	if f == nil {
		return raw.Rpg_set_log_callback(0, 0, int(minLevel))
	}
	return raw.Rpg_set_log_callback(uintptr(C.rpgnet_log_fn()), 0, int(minLevel))
}

// OnProgress sets the function Run calls every report-every updates (SetReportEvery) and at the
// last update, on Run's goroutine; it returns true to stop the run (after the current update,
// with a checkpoint). A panic in f stops the run too, and Run returns it as a *CallbackPanic.
// nil: no callback. Set it before Run, not during.
func (t *Trainer) OnProgress(f func(p Progress) (stop bool)) { t.progress = f }

// withProgress runs body with t's progress callback installed for it (a cgo handle to the Go
// func is the C callback's user data, released when body returns).
func (t *Trainer) withProgress(h uintptr, body func() error) error {
	f := t.progress
	if f == nil {
		return body()
	}
	handle := cgo.NewHandle(f)
	defer handle.Delete()
	if err := raw.Rpg_trainer_set_progress_callback(h, uintptr(C.rpgnet_progress_fn()), uintptr(handle)); err != nil {
		return err
	}
	defer raw.Rpg_trainer_set_progress_callback(h, 0, 0)
	return body()
}
