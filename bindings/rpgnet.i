/* rpgnet.i: the one SWIG interface of the Java, Go and C# bindings, read from capi/rpgnet.h as is.
 *
 * Every typemap below matches by type only, never by argument name, so a function appended to
 * the header reaches all three languages by regenerating (make bindings):
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

/* Function pointers do not cross the bindings (callbacks would run on foreign threads). */
%ignore rpg_set_log_callback;
%ignore rpg_trainer_set_progress_callback;
%ignore rpg_log_fn;
%ignore rpg_progress_fn;

/* Seeds are 64-bit patterns: a plain signed 64-bit integer in every language. */
%apply int64_t { uint64_t };


/* ================================================================================= Java == */
#if defined(SWIGJAVA)
%{
static void rpg_java_throw(JNIEnv* jenv, int32_t status) {
  /* Read right after the failed call: nothing but pinned-array releases ran since. */
  jstring msg = (*jenv)->NewStringUTF(jenv, rpg_last_error());
  jclass cls = (*jenv)->FindClass(jenv, "org/rpgnet/RpgException");
  jmethodID ctor;
  jobject ex;
  if (!cls || !msg) return; /* an OutOfMemoryError / NoClassDefFoundError is pending */
  ctor = (*jenv)->GetMethodID(jenv, cls, "<init>", "(ILjava/lang/String;)V");
  if (!ctor) return;
  ex = (*jenv)->NewObject(jenv, cls, ctor, (jint)status, msg);
  if (ex) (*jenv)->Throw(jenv, (jthrowable)ex);
}
%}
/* Status: returned to the JNI layer, thrown in "ret", which runs after argout and freearg, i.e.
 * after every critical array is released (trap 1). The Java method returns void. */
%typemap(jstype) rpg_status "void"
%typemap(javaout) rpg_status { $jnicall; }
%typemap(ret) rpg_status %{ if ($1 < 0) rpg_java_throw(jenv, $1); %}

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
%}
%typemap(argout) (CTYPE, LENTYPE) %{
  if ($1) (*jenv)->ReleasePrimitiveArrayCritical(jenv, $input, (void*)$1, MODE);
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

%pragma(java) jniclasscode=%{
  static { RpgLoader.load(); }
%}
#endif /* SWIGJAVA */

/* =================================================================================== Go == */
#if defined(SWIGGO)
%{
/* A failed status becomes "STATUS:MESSAGE", built inside the C wrapper, i.e. in the same cgo
 * call as the failure (trap 2: a second cgo call may run on another OS thread). */
static _gostring_ rpg_go_status(int32_t status) {
  char head[16];
  const char* msg;
  size_t n, h;
  char* buf;
  _gostring_ s;
  if (status >= 0) return Swig_AllocateString("", 0);
  msg = rpg_last_error();
  h = (size_t)snprintf(head, sizeof head, "%d:", (int)status);
  n = strlen(msg);
  buf = (char*)malloc(h + n + 1);
  if (!buf) return Swig_AllocateString("-5:out of memory", 16);
  memcpy(buf, head, h);
  memcpy(buf + h, msg, n + 1);
  s = Swig_AllocateString(buf, h + n);
  free(buf);
  return s;
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
#cgo LDFLAGS: -lrpgnet
%}
%insert(go_wrapper) %{
// Error is a failed rpgnet call: Status is the negative RPG_STATUS_* code, Message the
// library's rpg_last_error() text, captured in the failing call.
type Error struct {
	Status  int32
	Message string
}

func (e *Error) Error() string { return e.Message }

func newStatusError(s string) error {
	if s == "" {
		return nil
	}
	i := 0
	for i < len(s) && s[i] != ':' {
		i++
	}
	var status int32
	neg := false
	for j := 0; j < i; j++ {
		if s[j] == '-' {
			neg = true
		} else {
			status = status*10 + int32(s[j]-'0')
		}
	}
	if neg {
		status = -status
	}
	msg := ""
	if i < len(s) {
		msg = s[i+1:]
	}
	return &Error{Status: status, Message: msg}
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

%define RPG_HANDLE(T)
%typemap(gotype) T*, const T* "uintptr"
%typemap(in) T*, const T* %{ $1 = ($1_ltype)$input; %}
%typemap(gotype) T** "*uintptr"
%typemap(in) T** %{ $1 = ($1_ltype)$input; %}
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
 * (void) throws it on return. */
%typemap(ctype) rpg_status "int32_t"
%typemap(imtype) rpg_status "int"
%typemap(cstype) rpg_status "void"
%typemap(out) rpg_status %{
  $result = $1;
  if ($1 < 0 && rpg_cs_raise) rpg_cs_raise($1, rpg_last_error());
%}
%typemap(csout) rpg_status {
    $imcall;
    if ($imclassname.SWIGPendingException.Pending) throw $imclassname.SWIGPendingException.Retrieve();
  }
%pragma(csharp) imclasscode=%{
  internal delegate void RpgRaise(int status, string message);
  static readonly RpgRaise rpgRaise = (status, message) =>
      SWIGPendingException.Set(new global::RpgNet.RpgException(status, message));
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
#endif /* SWIGCSHARP */

RPG_HANDLE(rpg_ring)
RPG_HANDLE(rpg_generator)
RPG_HANDLE(rpg_network)
RPG_HANDLE(rpg_export_options)
RPG_HANDLE(rpg_trainer)

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
