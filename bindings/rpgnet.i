/* rpgnet.i: the one SWIG interface of the Java, Go and C# bindings, read from capi/rpgnet.h as is.
 *
 * Every typemap below matches by type only, never by argument name (but the (buffer, length)
 * pairs at the end and Go's nullable data_path), so a function appended to the header reaches
 * all three languages by regenerating (make bindings):
 * - rpg_status returns become exceptions (Java, C#) or a returned error (Go) carrying the status
 *   and the rpg_last_error() message, read inside the same wrapper call (one JNI / P/Invoke /
 *   cgo call), after every pinned array has been released.
 * - (float*, int64_t) and (const float*, int64_t) pairs become one array argument passed
 *   without copies: Java float[] pinned with Get/ReleasePrimitiveArrayCritical, Go []float32,
 *   C# float[] (pinned by the marshaller, blittable). (void*, size_t) pairs the same with bytes.
 * - Handles (rpg_ring*, ...) are raw addresses (Java long, Go uintptr, C# IntPtr); T** outputs
 *   are a one-element long[] (Java), *uintptr (Go), out IntPtr (C#).
 * - Scalar outputs (int32_t*, int64_t*, uint64_t*, size_t*, float*, double*, const char**) are
 *   one-element arrays (Java, nullable), pointers (Go), out parameters (C#).
 * The idiomatic layers (bindings/java/src, bindings/go, bindings/csharp) sit on top of this.
 * Trap 4 of BINDINGS.md: every directive here precedes the %include of the header. */
%module RpgNative

%{
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rpgnet.h"
%}

%include <stdint.i>

/* Callbacks: rpg_set_log_callback and rpg_trainer_set_progress_callback take a function address
 * and a user_data address as plain integers (Java long, Go uintptr, C# IntPtr). Each language
 * passes the address of its own trampoline (below for Java and Go's C side, bindings/go for Go's
 * exported functions, a static delegate in C#), which runs the language's callback, catches what
 * it throws or panics, and records it on the calling thread; the wrapper of the call during
 * which it happened (rpg_trainer_run for progress) then raises it, once back from C. */

/* Seeds are 64-bit patterns: a plain signed 64-bit integer in every language. */
%apply int64_t { uint64_t };


/* ================================================================================= Java == */
#if defined(SWIGJAVA)
%{
/* Callbacks reach Java through the static methods of org.rpgnet.Callbacks, which run the
 * listener, catch whatever it throws (keeping it in a ThreadLocal) and return 2 when it threw.
 * The trampolines run on the thread inside the rpg_* call (attached first if it is a thread the
 * JVM does not know); a log message sent while that call holds a critical array (trap 1) is
 * queued and delivered when the call returns, before its status is raised. */
static JavaVM* rpg_java_vm;
static jclass rpg_java_callbacks;
static jmethodID rpg_java_progress_mid, rpg_java_log_mid, rpg_java_take_mid;
static __thread int rpg_java_pinned;  /* critical arrays this thread's current call holds */
static __thread int rpg_java_failed;  /* a listener threw during this thread's current call */
struct rpg_java_msg { struct rpg_java_msg* next; int32_t level; char text[]; };
static __thread struct rpg_java_msg *rpg_java_queue, *rpg_java_queue_tail;

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void* reserved) {
  JNIEnv* env;
  jclass cls;
  (void)reserved;
  if ((*vm)->GetEnv(vm, (void**)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
  cls = (*env)->FindClass(env, "org/rpgnet/Callbacks");
  if (!cls) return JNI_ERR;
  rpg_java_progress_mid = (*env)->GetStaticMethodID(env, cls, "progress", "(JJJDDDFD)I");
  rpg_java_log_mid = (*env)->GetStaticMethodID(env, cls, "log", "(ILjava/lang/String;)I");
  rpg_java_take_mid = (*env)->GetStaticMethodID(env, cls, "takeFailure",
                                                "(ILjava/lang/String;)Ljava/lang/Throwable;");
  if (!rpg_java_progress_mid || !rpg_java_log_mid || !rpg_java_take_mid) return JNI_ERR;
  rpg_java_callbacks = (jclass)(*env)->NewGlobalRef(env, cls);
  if (!rpg_java_callbacks) return JNI_ERR;
  rpg_java_vm = vm;
  return JNI_VERSION_1_8;
}

/* This thread's JNIEnv; *attached: the thread was attached here (detach when done). */
static JNIEnv* rpg_java_env(int* attached) {
  JNIEnv* env = NULL;
  jint r;
  *attached = 0;
  if (!rpg_java_vm) return NULL;
  r = (*rpg_java_vm)->GetEnv(rpg_java_vm, (void**)&env, JNI_VERSION_1_8);
  if (r == JNI_EDETACHED) {
    if ((*rpg_java_vm)->AttachCurrentThreadAsDaemon(rpg_java_vm, (void**)&env, NULL) != JNI_OK) return NULL;
    *attached = 1;
  } else if (r != JNI_OK) {
    return NULL;
  }
  return env;
}

static void rpg_java_done(JNIEnv* env, int attached, jint result) {
  if ((*env)->ExceptionCheck(env)) {  /* thrown by the dispatch itself (the listener's are caught) */
    (*env)->ExceptionClear(env);
    result = 2;
  }
  if (result == 2) rpg_java_failed = 1;
  if (attached) (*rpg_java_vm)->DetachCurrentThread(rpg_java_vm);
}

static int32_t rpg_java_progress(int64_t update, int64_t max_updates, double epoch, double loss,
                                 double avg_loss, float learning_rate, double images_per_second,
                                 void* user_data) {
  int attached;
  jint r;
  JNIEnv* env = rpg_java_env(&attached);
  if (!env) return 1; /* no JVM to ask: stop */
  r = (*env)->CallStaticIntMethod(env, rpg_java_callbacks, rpg_java_progress_mid,
                                  (jlong)(intptr_t)user_data, (jlong)update, (jlong)max_updates,
                                  epoch, loss, avg_loss, learning_rate, images_per_second);
  rpg_java_done(env, attached, r);
  return r != 0;
}

static void rpg_java_deliver(JNIEnv* env, int attached, int32_t level, const char* message) {
  jint r = 2;
  jstring s = (*env)->NewStringUTF(env, message);
  if (s) {
    r = (*env)->CallStaticIntMethod(env, rpg_java_callbacks, rpg_java_log_mid, (jint)level, s);
    (*env)->DeleteLocalRef(env, s);
  }
  rpg_java_done(env, attached, r);
}

static void rpg_java_log(int32_t level, const char* message, void* user_data) {
  int attached;
  JNIEnv* env;
  (void)user_data;
  if (rpg_java_pinned > 0) { /* no JNI calls now: deliver when the call returns */
    size_t n = strlen(message);
    struct rpg_java_msg* m = (struct rpg_java_msg*)malloc(sizeof *m + n + 1);
    if (!m) return;
    m->next = NULL;
    m->level = level;
    memcpy(m->text, message, n + 1);
    if (rpg_java_queue_tail) rpg_java_queue_tail->next = m; else rpg_java_queue = m;
    rpg_java_queue_tail = m;
    return;
  }
  env = rpg_java_env(&attached);
  if (env) rpg_java_deliver(env, attached, level, message);
}

/* After every call returning a status, all arrays released (the "ret" typemap): queued log
 * messages go to the listener, then a listener's exception is thrown (the call's own failure
 * attached to it as suppressed), else a failed status as an RpgException. */
static void rpg_java_finish(JNIEnv* jenv, int32_t status) {
  jstring msg = NULL;
  if (status < 0) { /* read right after the failed call, before any listener runs */
    msg = (*jenv)->NewStringUTF(jenv, rpg_last_error());
    if (!msg) return; /* an OutOfMemoryError is pending */
  }
  while (rpg_java_queue) {
    struct rpg_java_msg* m = rpg_java_queue;
    rpg_java_queue = m->next;
    if (!rpg_java_queue) rpg_java_queue_tail = NULL;
    rpg_java_deliver(jenv, 0, m->level, m->text);
    free(m);
  }
  if (rpg_java_failed) {
    jthrowable ex;
    rpg_java_failed = 0;
    ex = (jthrowable)(*jenv)->CallStaticObjectMethod(jenv, rpg_java_callbacks, rpg_java_take_mid,
                                                     (jint)status, msg);
    if (ex && !(*jenv)->ExceptionCheck(jenv)) (*jenv)->Throw(jenv, ex);
  } else if (status < 0) {
    jclass cls = (*jenv)->FindClass(jenv, "org/rpgnet/RpgException");
    jmethodID ctor;
    jobject ex;
    if (!cls) return; /* a NoClassDefFoundError is pending */
    ctor = (*jenv)->GetMethodID(jenv, cls, "<init>", "(ILjava/lang/String;)V");
    if (!ctor) return;
    ex = (*jenv)->NewObject(jenv, cls, ctor, (jint)status, msg);
    if (ex) (*jenv)->Throw(jenv, (jthrowable)ex);
  }
}
%}
/* The trampolines' addresses, for the callback setters (Java glue: org.rpgnet.Callbacks). */
%inline %{
int64_t rpg_java_progress_fn(void) { return (int64_t)(intptr_t)&rpg_java_progress; }
int64_t rpg_java_log_fn(void) { return (int64_t)(intptr_t)&rpg_java_log; }
%}
/* Status: returned to the JNI layer and handled in "ret", which runs after argout and freearg,
 * i.e. after every critical array is released (trap 1). The Java method returns void. */
%typemap(jstype) rpg_status "void"
%typemap(javaout) rpg_status { $jnicall; }
%typemap(ret) rpg_status %{ rpg_java_finish(jenv, $1); %}

/* Arrays: the length is read in "in" (no array is pinned yet), the array pinned in "check"
 * (after every "in": no JNI call inside a critical region), released in "argout" (arrays come
 * before scalar outputs in every signature), before any exception is raised. */
%define RPG_JAVA_ARRAY(CTYPE, LENTYPE, JNITYPE, JTYPE, MODE)
%typemap(jni) (CTYPE, LENTYPE) #JNITYPE
%typemap(jtype) (CTYPE, LENTYPE) #JTYPE
%typemap(jstype) (CTYPE, LENTYPE) #JTYPE
%typemap(javain) (CTYPE, LENTYPE) "$javainput"
%typemap(in) (CTYPE, LENTYPE) %{
  $1 = NULL;
  $2 = $input ? ($2_ltype)(*jenv)->GetArrayLength(jenv, $input) : 0;
%}
%typemap(check) (CTYPE, LENTYPE) %{
  if ($input) $1 = ($1_ltype)(*jenv)->GetPrimitiveArrayCritical(jenv, $input, NULL);
  if ($1) ++rpg_java_pinned;
%}
%typemap(argout) (CTYPE, LENTYPE) %{
  if ($1) {
    (*jenv)->ReleasePrimitiveArrayCritical(jenv, $input, (void*)$1, MODE);
    --rpg_java_pinned;
  }
%}
%enddef
RPG_JAVA_ARRAY(float* DATA, int64_t LEN, jfloatArray, float[], 0)
RPG_JAVA_ARRAY(const float* DATA, int64_t LEN, jfloatArray, float[], JNI_ABORT)
RPG_JAVA_ARRAY(void* DATA, size_t LEN, jbyteArray, byte[], 0)
RPG_JAVA_ARRAY(const void* DATA, size_t LEN, jbyteArray, byte[], JNI_ABORT)

/* Scalar outputs: a one-element array, or null for a nullable output. */
%define RPG_JAVA_OUT(CTYPE, JNITYPE, JARRAY, JELEM, SETTER)
%typemap(jni) CTYPE* #JARRAY
%typemap(jtype) CTYPE* #JELEM "[]"
%typemap(jstype) CTYPE* #JELEM "[]"
%typemap(javain) CTYPE* "$javainput"
%typemap(in) CTYPE* (CTYPE temp = 0) %{ $1 = $input ? &temp : NULL; %}
%typemap(argout) CTYPE* %{
  if ($input) { JNITYPE v = (JNITYPE)temp$argnum; (*jenv)->SETTER(jenv, $input, 0, 1, &v); }
%}
%enddef
RPG_JAVA_OUT(int32_t, jint, jintArray, int, SetIntArrayRegion)
RPG_JAVA_OUT(int64_t, jlong, jlongArray, long, SetLongArrayRegion)
RPG_JAVA_OUT(uint64_t, jlong, jlongArray, long, SetLongArrayRegion)
RPG_JAVA_OUT(size_t, jlong, jlongArray, long, SetLongArrayRegion)
RPG_JAVA_OUT(float, jfloat, jfloatArray, float, SetFloatArrayRegion)
RPG_JAVA_OUT(double, jdouble, jdoubleArray, double, SetDoubleArrayRegion)

%typemap(jni) const char** "jobjectArray"
%typemap(jtype) const char** "String[]"
%typemap(jstype) const char** "String[]"
%typemap(javain) const char** "$javainput"
%typemap(in) const char** (const char* temp = NULL) %{ $1 = $input ? ($1_ltype)&temp : NULL; %}
%typemap(argout) const char** %{
  if ($input && temp$argnum) {
    jstring s = (*jenv)->NewStringUTF(jenv, temp$argnum);
    if (s) (*jenv)->SetObjectArrayElement(jenv, $input, 0, s);
  }
%}

%define RPG_HANDLE(T)
%typemap(jni) T*, const T* "jlong"
%typemap(jtype) T*, const T* "long"
%typemap(jstype) T*, const T* "long"
%typemap(javain) T*, const T* "$javainput"
%typemap(in) T*, const T* %{ $1 = ($1_ltype)(intptr_t)$input; %}
%typemap(jni) T** "jlongArray"
%typemap(jtype) T** "long[]"
%typemap(jstype) T** "long[]"
%typemap(javain) T** "$javainput"
%typemap(in) T** (T* temp = NULL) %{ $1 = $input ? &temp : NULL; %}
%typemap(argout) T** %{
  if ($input) { jlong v = (jlong)(intptr_t)temp$argnum; (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &v); }
%}
%enddef

%define RPG_ADDRESS(PATTERN)
%typemap(jni) PATTERN "jlong"
%typemap(jtype) PATTERN "long"
%typemap(jstype) PATTERN "long"
%typemap(javain) PATTERN "$javainput"
%typemap(in) PATTERN %{ $1 = ($1_ltype)(intptr_t)$input; %}
%enddef

%pragma(java) jniclasscode=%{
  static { RpgLoader.load(); }
%}
#endif /* SWIGJAVA */

/* =================================================================================== Go == */
#if defined(SWIGGO)
%go_import("fmt", "strconv", "strings", "sync", "sync/atomic")
%{
/* A callback's panic is recovered in Go (bindings/go/callback.go), kept in a table under an id,
 * and the id is noted here for the thread running the rpg_* call; that call's status (below)
 * carries it out. */
static __thread int64_t rpg_go_failure;

/* A status as "FAILURE#STATUS:MESSAGE" ("" for success without a callback failure), built inside
 * the C wrapper, i.e. in the same cgo call as the failure (trap 2: a second cgo call may run on
 * another OS thread). FAILURE: the id of a callback's panic during this call, or 0. */
static _gostring_ rpg_go_status(int32_t status) {
  char head[48];
  const char* msg = status < 0 ? rpg_last_error() : "";
  int64_t failure = rpg_go_failure;
  size_t n, h;
  char* buf;
  _gostring_ s;
  rpg_go_failure = 0;
  if (status >= 0 && failure == 0) return Swig_AllocateString("", 0);
  h = (size_t)snprintf(head, sizeof head, "%lld#%d:", (long long)failure, (int)status);
  n = strlen(msg);
  buf = (char*)malloc(h + n + 1);
  if (!buf) return Swig_AllocateString("0#-5:out of memory", 18);
  memcpy(buf, head, h);
  memcpy(buf + h, msg, n + 1);
  s = Swig_AllocateString(buf, h + n);
  free(buf);
  return s;
}
%}
/* Called from a callback: notes the id of its panic for the rpg_* call running on this thread.
 * Returns an id to drop: 0, or this one when an earlier panic of the same call is noted. */
%inline %{
int64_t rpg_go_note_callback_failure(int64_t id) {
  if (rpg_go_failure != 0) return id;
  rpg_go_failure = id;
  return 0;
}
%}
%typemap(gotype) rpg_status "error"
%typemap(imtype) rpg_status "string"
%typemap(out) rpg_status %{ $result = rpg_go_status($1); %}
%typemap(goout) rpg_status %{ $result = newStatusError(swigCopyString($1)) %}
/* A parameter of type rpg_status (rpg_status_string) stays a plain integer. */
%typemap(gotype) rpg_status status "int32"
%typemap(imtype) rpg_status status "int32"
%typemap(in) rpg_status status "$1 = (rpg_status)$input;"

%insert(cgo_comment_typedefs) %{
#cgo pkg-config: rpgnet
%}
%insert(go_wrapper) %{
// Error is a failed rpgnet call: Status is the negative RPG_STATUS_* code, Message the
// library's rpg_last_error() text, captured in the failing call.
type Error struct {
	Status  int32
	Message string
}

func (e *Error) Error() string { return e.Message }

// CallbackPanic is a panic inside a callback (log or progress), recovered before it could
// unwind through C and returned by the call during which it happened (Run for progress).
// Value is what was passed to panic, Stack the callback's stack then, CallErr the call's own
// failure (nil when the call itself succeeded).
type CallbackPanic struct {
	Callback string
	Value    any
	Stack    []byte
	CallErr  error
}

func (e *CallbackPanic) Error() string {
	return fmt.Sprintf("rpgnet: the %s callback panicked: %v", e.Callback, e.Value)
}

// Unwrap gives the panic value when it is an error, else the call's own failure.
func (e *CallbackPanic) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return e.CallErr
}

var (
	callbackPanics  sync.Map // id -> *CallbackPanic
	callbackPanicID int64
)

// NoteCallbackPanic keeps p to be returned by the rpg_* call running on this thread; call it
// only from inside a callback (bindings/go/callback.go does).
func NoteCallbackPanic(p *CallbackPanic) {
	id := atomic.AddInt64(&callbackPanicID, 1)
	callbackPanics.Store(id, p)
	if drop := Rpg_go_note_callback_failure(id); drop != 0 {
		callbackPanics.Delete(drop)
	}
}

func newStatusError(s string) error {
	if s == "" {
		return nil
	}
	head, msg, _ := strings.Cut(s, ":")
	failureText, statusText, _ := strings.Cut(head, "#")
	failure, _ := strconv.ParseInt(failureText, 10, 64)
	status, _ := strconv.ParseInt(statusText, 10, 32)
	var callErr error
	if status < 0 {
		callErr = &Error{Status: int32(status), Message: msg}
	}
	if p, ok := callbackPanics.LoadAndDelete(failure); ok {
		cp := p.(*CallbackPanic)
		cp.CallErr = callErr
		return cp
	}
	return callErr
}

// GoStringAt copies the NUL-terminated string at a borrowed char* address (const char** outputs).
func GoStringAt(p uintptr) string {
	if p == 0 {
		return ""
	}
	return C.GoString((*C.char)(unsafe.Pointer(p)))
}
%}

%define RPG_GO_ARRAY(CTYPE, LENTYPE, GOTYPE)
%typemap(gotype) (CTYPE, LENTYPE) #GOTYPE
%typemap(in) (CTYPE, LENTYPE) %{
  $1 = ($1_ltype)$input.array;
  $2 = ($2_ltype)$input.len;
%}
%enddef
RPG_GO_ARRAY(float* DATA, int64_t LEN, []float32)
RPG_GO_ARRAY(const float* DATA, int64_t LEN, []float32)
RPG_GO_ARRAY(void* DATA, size_t LEN, []byte)
RPG_GO_ARRAY(const void* DATA, size_t LEN, []byte)

/* Scalar outputs: a Go pointer to memory without Go pointers (nullable). */
%define RPG_GO_OUT(CTYPE, GOTYPE)
%typemap(gotype) CTYPE* "*" #GOTYPE
%typemap(in) CTYPE* %{ $1 = ($1_ltype)$input; %}
%enddef
RPG_GO_OUT(int32_t, int32)
RPG_GO_OUT(int64_t, int64)
RPG_GO_OUT(uint64_t, uint64)
RPG_GO_OUT(size_t, uint64)
RPG_GO_OUT(float, float32)
RPG_GO_OUT(double, float64)
%typemap(gotype) const char** "*uintptr"
%typemap(in) const char** %{ $1 = ($1_ltype)$input; %}
/* A Go string cannot be nil: for rpg_export_options_set_int8's data_path (NULL: int8 off) ""
 * passes NULL. rpg_trainer_create's data_path, the other one, rejects both. */
%typemap(in) const char* data_path %{
  $1 = NULL;
  if ($input.n > 0) {
    $1 = ($1_ltype)malloc($input.n + 1);
    memcpy((char*)$1, $input.p, $input.n);
    ((char*)$1)[$input.n] = '\0';
  }
%}

%define RPG_HANDLE(T)
%typemap(gotype) T*, const T* "uintptr"
%typemap(in) T*, const T* %{ $1 = ($1_ltype)$input; %}
%typemap(gotype) T** "*uintptr"
%typemap(in) T** %{ $1 = ($1_ltype)$input; %}
%enddef
%define RPG_ADDRESS(PATTERN)
%typemap(gotype) PATTERN "uintptr"
%typemap(in) PATTERN %{ $1 = ($1_ltype)$input; %}
%enddef
#endif /* SWIGGO */

/* =================================================================================== C# == */
#if defined(SWIGCSHARP)
%{
typedef void (SWIGSTDCALL* rpg_cs_raise_fn)(int32_t status, const char* message);
static rpg_cs_raise_fn rpg_cs_raise = 0;
#ifdef __cplusplus
extern "C"
#endif
SWIGEXPORT void SWIGSTDCALL RpgNative_RegisterRaise(rpg_cs_raise_fn fn) { rpg_cs_raise = fn; }
%}
/* Status: the C wrapper hands status and message to a managed callback that stores an
 * RpgException as the thread's pending exception, inside the same P/Invoke call; the C# method
 * (void) throws it on return. An exception thrown by a log or progress handler during the call
 * is stored the same way first (bindings/csharp/RpgNet.cs, Callbacks), and wins: it is thrown
 * with its own stack trace. */
%typemap(ctype) rpg_status "int32_t"
%typemap(imtype) rpg_status "int"
%typemap(cstype) rpg_status "void"
%typemap(out) rpg_status %{
  $result = $1;
  if ($1 < 0 && rpg_cs_raise) rpg_cs_raise($1, rpg_last_error());
%}
%typemap(csout) rpg_status {
    $imcall;
    if ($imclassname.SWIGPendingException.Pending)
      global::System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(
          $imclassname.SWIGPendingException.Retrieve()).Throw();
  }
%pragma(csharp) imclasscode=%{
  internal delegate void RpgRaise(int status, string message);
  static readonly RpgRaise rpgRaise = (status, message) => {
    if (!SWIGPendingException.Pending) SWIGPendingException.Set(new global::RpgNet.RpgException(status, message));
  };
  [global::System.Runtime.InteropServices.DllImport("$dllimport", EntryPoint="RpgNative_RegisterRaise")]
  static extern void RpgNative_RegisterRaise(RpgRaise fn);
  internal static readonly bool rpgRaiseRegistered = RegisterRaise();
  static bool RegisterRaise() { RpgNative_RegisterRaise(rpgRaise); return true; }
%}

/* Arrays: no multi-argument typemaps in C# (trap 3): the array and its length stay two
 * arguments; the array is pinned with `fixed` for the call, no copy. */
%csmethodmodifiers "public unsafe";
/* Byte counts as 64-bit ulong (SWIG's default for size_t is a 32-bit uint). */
%apply unsigned long long { size_t };
%define RPG_CS_ARRAY(CTYPE, CSELEM)
%typemap(ctype) CTYPE "void*"
%typemap(imtype) CTYPE "global::System.IntPtr"
%typemap(cstype) CTYPE #CSELEM "[]"
%typemap(csin, pre="    fixed (" #CSELEM "* swig_ptrTo_$csinput = $csinput) {", terminator="    }") CTYPE
  "(global::System.IntPtr)swig_ptrTo_$csinput"
%typemap(in) CTYPE %{ $1 = ($1_ltype)$input; %}
%enddef
RPG_CS_ARRAY(float*, float)
RPG_CS_ARRAY(const float*, float)
RPG_CS_ARRAY(void*, byte)
RPG_CS_ARRAY(const void*, byte)

/* Scalar outputs: out parameters (the single-float output is named out: float* out). */
%define RPG_CS_OUT(CTYPE, CSTYPE)
%typemap(ctype) CTYPE "void*"
%typemap(imtype) CTYPE "out " #CSTYPE
%typemap(cstype) CTYPE "out " #CSTYPE
%typemap(csin) CTYPE "out $csinput"
%typemap(in) CTYPE %{ $1 = ($1_ltype)$input; %}
%enddef
RPG_CS_OUT(int32_t*, int)
RPG_CS_OUT(int64_t*, long)
RPG_CS_OUT(uint64_t*, long)
RPG_CS_OUT(size_t*, ulong)
RPG_CS_OUT(float* out, float)
RPG_CS_OUT(double*, double)
RPG_CS_OUT(const char**, global::System.IntPtr)

%define RPG_HANDLE(T)
%typemap(ctype) T*, const T* "void*"
%typemap(imtype) T*, const T* "global::System.IntPtr"
%typemap(cstype) T*, const T* "global::System.IntPtr"
%typemap(csin) T*, const T* "$csinput"
%typemap(in) T*, const T* %{ $1 = ($1_ltype)$input; %}
%typemap(ctype) T** "void**"
%typemap(imtype) T** "out global::System.IntPtr"
%typemap(cstype) T** "out global::System.IntPtr"
%typemap(csin) T** "out $csinput"
%typemap(in) T** %{ $1 = ($1_ltype)$input; %}
%enddef
%define RPG_ADDRESS(PATTERN)
%typemap(ctype) PATTERN "void*"
%typemap(imtype) PATTERN "global::System.IntPtr"
%typemap(cstype) PATTERN "global::System.IntPtr"
%typemap(csin) PATTERN "$csinput"
%typemap(in) PATTERN %{ $1 = ($1_ltype)$input; %}
%enddef
#endif /* SWIGCSHARP */

RPG_HANDLE(rpg_ring)
RPG_HANDLE(rpg_generator)
RPG_HANDLE(rpg_network)
RPG_HANDLE(rpg_export_options)
RPG_HANDLE(rpg_trainer)
/* The callback setters' function and user_data addresses. */
RPG_ADDRESS(rpg_log_fn)
RPG_ADDRESS(rpg_progress_fn)
RPG_ADDRESS(void* user_data)

/* A parameter of type rpg_status (rpg_status_string) stays a plain int (after the
 * rpg_status typemaps above, which %apply copies as they are now). */
%apply int { rpg_status status };

/* Multi-argument typemaps match by name: the (buffer, length) pairs of the header. A function
 * appended with a new pair of names needs its line here (make bindings fails on an unlisted
 * pair: see the check in the Makefile). */
#if !defined(SWIGCSHARP)
%apply (float* DATA, int64_t LEN) {
  (float* values, int64_t len), (float* weights, int64_t len), (float* ring_grad, int64_t ring_len),
  (float* output, int64_t output_len), (float* input_grad, int64_t input_grad_len)
};
%apply (const float* DATA, int64_t LEN) {
  (const float* values, int64_t len), (const float* grad, int64_t len),
  (const float* weight_grad, int64_t weight_len), (const float* input, int64_t input_len),
  (const float* target, int64_t target_len), (const float* output_grad, int64_t output_grad_len)
};
%apply (void* DATA, size_t LEN) { (void* buffer, size_t capacity) };
%apply (const void* DATA, size_t LEN) { (const void* data, size_t size) };
#endif

%include "rpgnet.h"
