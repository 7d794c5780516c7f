package rpgnet

// The C entry points of the callbacks (their addresses are taken in callback.go: a file with
// //export may only declare C in its preamble). Each recovers a panic of the Go callback before
// it can unwind through C and notes it for the call running on this thread, which returns it.

// #include <stdint.h>
import "C"

import (
	"runtime/cgo"
	"runtime/debug"
	"unsafe"

	"rpgnet.org/rpgnet/raw"
)

// recoverCallback turns a panic of the callback named name into the error of the running call;
// *stop (when not nil) is set, so that a progress callback that panicked stops the run.
func recoverCallback(name string, stop *C.int32_t) {
	if r := recover(); r != nil {
		raw.NoteCallbackPanic(&CallbackPanic{Callback: name, Value: r, Stack: debug.Stack()})
		if stop != nil {
			*stop = 1
		}
	}
}

//export rpgnetGoProgress
func rpgnetGoProgress(update, maxUpdates C.int64_t, epoch, loss, avgLoss C.double, learningRate C.float,
	imagesPerSecond C.double, user unsafe.Pointer) (stop C.int32_t) {
	defer recoverCallback("progress", &stop)
	f := cgo.Handle(uintptr(user)).Value().(func(Progress) bool)
	if f(Progress{Update: int64(update), MaxUpdates: int64(maxUpdates), Epoch: float64(epoch),
		Loss: float64(loss), AvgLoss: float64(avgLoss), LearningRate: float32(learningRate),
		ImagesPerSecond: float64(imagesPerSecond)}) {
		return 1
	}
	return 0
}

//export rpgnetGoLog
func rpgnetGoLog(level C.int32_t, message *C.char, _ unsafe.Pointer) {
	defer recoverCallback("log", nil)
	logMu.RLock()
	f := logFunc
	logMu.RUnlock()
	if f != nil {
		f(int32(level), C.GoString(message))
	}
}
