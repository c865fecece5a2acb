/*
 * edgekd_frontend.h -- the audio front-end of an edgekd artifact in portable C99 (edgekd bundle).
 *
 * Turns float32 samples (the output of the sidecar's `read_wav` step: PCM scaled to [-1, 1], mono, at
 * EDGEKD_FE_SAMPLE_RATE Hz) into the model's int8 input, one window at a time, exactly as the sidecar's
 * `frontend.steps` say (docs/sidecar-v2.md; reference: edgekd/runtime/steps.py):
 *
 *   read_wav's refusals (non-finite, constant, silent, clipped; shorter than min_seconds)
 *   -> remove_mean -> bandpass (zero-phase FFT filter over the whole reflect-padded recording, FFT length the
 *   next 2^a 3^b 5^c >= n + 2p) -> frame -> unit_rms -> power_spectrogram (periodic Hann, n_fft-point real FFT)
 *   -> mel (Slaney, unit area) -> log(max(x, floor)) -> model layout -> int8:
 *   q = clip(round_half_to_even(float32(x) / float32(scale) + float32(zero_point)), qmin, qmax), in float32.
 *
 * The parameters and constant tables (Hann window, sparse mel filterbank, FFT twiddles) are in
 * edgekd_frontend_config.h, generated from the sidecar by `python -m edgekd.bundle.cfrontend`.
 *
 * Arithmetic: float32 by default; -DEDGEKD_FE_DOUBLE computes in double, as the reference does. Measured on the
 * shipped heart model and 53 whole recordings (benchmarks/results/c_frontend.md): the double build gave the
 * reference's int8 tensor exactly (and its log-mel bit for bit) on every one; float32 put about 1 int8 value in
 * 7,000 one step away, and its log-mel differ by 2e-4 on the median recording (within 1e-4 on 16 of 50) and by
 * 4e-3 on one whose spectrum drops to the log floor, about 90 dB below its peak: a float32 FFT of the whole
 * recording cannot resolve bins that far down. Use the double build where the int8 input must equal the
 * reference's (`edgekd conformance` asks for it exactly); it costs twice the working buffer and, without a
 * double-precision FPU, time.
 *
 * Memory: no malloc, no static state. The caller passes one working buffer of EDGEKD_FE_WORK_BYTES, aligned for
 * edgekd_fe_real (declare it `static edgekd_fe_real work[EDGEKD_FE_WORK_REALS];`):
 *
 *   EDGEKD_FE_WORK_BYTES = (EDGEKD_FE_MAX_FFT + EDGEKD_FE_N_FFT + EDGEKD_FE_N_FFT / 2 + 1) * sizeof(edgekd_fe_real)
 *   EDGEKD_FE_MAX_FFT    = the smallest 2^a 3^b 5^c >= EDGEKD_FE_MAX_SAMPLES + 2 * min(EDGEKD_FE_PAD_AT_LEAST,
 *                          EDGEKD_FE_MAX_SAMPLES - 1)
 *
 * The band-pass FFT runs in place in the first EDGEKD_FE_MAX_FFT reals (a half-length complex FFT for an even
 * length, a real-input split for an odd one) and leaves the band-passed recording there; the rest holds one
 * n_fft frame and its power spectrum. For the shipped heart model (2 kHz, pad 1000, n_fft 256): 174,340 bytes
 * for recordings up to 20 s (348,680 with EDGEKD_FE_DOUBLE), 493,060 up to 60 s (986,120); the generated config
 * states the figure for its maximum. To size for another maximum, regenerate the config
 * (`python -m edgekd.bundle.cfrontend ARTIFACT --out DIR --max-seconds S`) or compile with
 * -DEDGEKD_FE_MAX_SAMPLES=N: then EDGEKD_FE_MAX_FFT is the bound N' + N'/8 + 8 (N' = N + 2 pad), which is never
 * below the smallest 2^a 3^b 5^c >= N' and at most 12.5 % above it.
 *
 * The samples may be written into the buffer itself, at edgekd_fe_sample_slot(work) (up to EDGEKD_FE_MAX_SAMPLES
 * float32), to spare a second copy of the recording: prepare reads them before it overwrites them. (With
 * EDGEKD_FE_DOUBLE that slot is a float view of a double buffer: build edgekd_frontend.c with
 * -fno-strict-aliasing if your toolchain inlines across files.)
 *
 * Use:
 *   static edgekd_fe_real work[EDGEKD_FE_WORK_REALS];
 *   edgekd_fe_state st;
 *   int rc = edgekd_fe_prepare(&st, samples, n, work, sizeof work);   // refusals, mean, band-pass
 *   for (size_t w = 0; rc == EDGEKD_FE_OK && w < st.n_windows; ++w) {
 *     rc = edgekd_fe_window(&st, w, input_tensor_int8, NULL);         // EDGEKD_FE_INPUT_VALUES int8 values
 *     ... invoke the model, softmax, average the window probabilities ...
 *   }
 * Not covered: reading the WAV file (and read_wav's float_limit check, which applies to float WAV files).
 */
#ifndef EDGEKD_FRONTEND_H_
#define EDGEKD_FRONTEND_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef EDGEKD_FE_DOUBLE
typedef double edgekd_fe_real;
#else
typedef float edgekd_fe_real;
#endif

#include "edgekd_frontend_config.h"

#ifndef EDGEKD_FE_MAX_FFT
#define EDGEKD_FE_MAX_FFT (EDGEKD_FE_FFT_LEN_BOUND(EDGEKD_FE_MAX_SAMPLES + 2 * EDGEKD_FE_MAX_PAD))
#endif
#define EDGEKD_FE_FFT_LEN_BOUND(m) ((m) + (m) / 8 + 8)
#define EDGEKD_FE_MAX_PAD \
  (EDGEKD_FE_PAD_AT_LEAST < EDGEKD_FE_MAX_SAMPLES - 1 ? EDGEKD_FE_PAD_AT_LEAST : EDGEKD_FE_MAX_SAMPLES - 1)
/* reals of the working buffer: the band-pass FFT, then one frame and its power spectrum */
#define EDGEKD_FE_WORK_REALS ((size_t)EDGEKD_FE_MAX_FFT + EDGEKD_FE_N_FFT + EDGEKD_FE_N_FFT / 2 + 1)
#define EDGEKD_FE_WORK_BYTES (EDGEKD_FE_WORK_REALS * sizeof(edgekd_fe_real))
/* windows of a recording of the maximum length; int8 values of one window's model input */
#define EDGEKD_FE_MAX_WINDOWS (1 + (EDGEKD_FE_MAX_SAMPLES - EDGEKD_FE_WINDOW_SAMPLES) / EDGEKD_FE_HOP_SAMPLES)
#define EDGEKD_FE_INPUT_VALUES (EDGEKD_FE_N_MELS * EDGEKD_FE_N_FRAMES)

/* return codes: 0 or a refusal (negative) */
#define EDGEKD_FE_OK 0
#define EDGEKD_FE_ERR_ARGUMENT (-1)   /* a NULL pointer, a misaligned buffer, a window index out of range */
#define EDGEKD_FE_ERR_TOO_SHORT (-2)  /* fewer than EDGEKD_FE_MIN_SAMPLES (one window, or min_seconds) */
#define EDGEKD_FE_ERR_TOO_LONG (-3)   /* more than EDGEKD_FE_MAX_SAMPLES */
#define EDGEKD_FE_ERR_WORK_SIZE (-4)  /* the working buffer is smaller than EDGEKD_FE_WORK_BYTES */
#define EDGEKD_FE_ERR_NOT_FINITE (-5) /* a NaN or infinite sample */
#define EDGEKD_FE_ERR_CONSTANT (-6)   /* a constant signal (read_wav refuse) */
#define EDGEKD_FE_ERR_SILENT (-7)     /* RMS after removing the mean below EDGEKD_FE_SILENCE_RMS */
#define EDGEKD_FE_ERR_CLIPPED (-8)    /* more than EDGEKD_FE_CLIP_FRACTION of |x| >= 0.999 */
#define EDGEKD_FE_ERR_STATE (-9)      /* edgekd_fe_window before a successful edgekd_fe_prepare */

/* A prepared recording: the band-passed samples live in `work` until the next prepare. */
typedef struct {
  void *work;
  size_t n_samples;
  size_t n_windows;
  uint32_t ready;
} edgekd_fe_state;

/* Where the caller may write up to EDGEKD_FE_MAX_SAMPLES float32 samples inside `work` (then pass that pointer
 * as `samples` to edgekd_fe_prepare: no second copy of the recording). */
float *edgekd_fe_sample_slot(void *work);

/* Windows a recording of n_samples gives (0 when it would be refused for its length). */
size_t edgekd_fe_windows(size_t n_samples);

/* The recording-wide steps: refusals, remove_mean and the band-pass, into `work`; sets st->n_windows.
 * `samples` must not overlap `work` unless it is edgekd_fe_sample_slot(work). Returns EDGEKD_FE_OK or a refusal. */
int edgekd_fe_prepare(edgekd_fe_state *st, const float *samples, size_t n_samples, void *work, size_t work_bytes);

/* Window `window` (0 .. st->n_windows - 1): frame, unit_rms, power spectrogram, mel, log, layout and int8.
 * Writes EDGEKD_FE_INPUT_VALUES int8 values to `input` (the model's input tensor, its layout) and, when
 * `features` is not NULL, the log-mel values as float32 in the same order (mels, frames). Either may be NULL. */
int edgekd_fe_window(const edgekd_fe_state *st, size_t window, int8_t *input, float *features);

/* The band-passed recording (the `bandpass` step's output: n_samples values rounded to float32), valid until the
 * next prepare; NULL before a successful one. */
const edgekd_fe_real *edgekd_fe_bandpassed(const edgekd_fe_state *st);

/* All windows at once: prepare, then each window into input + w * EDGEKD_FE_INPUT_VALUES (and features).
 * *n_windows (may be NULL) gets the count. */
int edgekd_fe_run(const float *samples, size_t n_samples, void *work, size_t work_bytes, int8_t *input,
                  float *features, size_t *n_windows);

#ifdef __cplusplus
}
#endif

#endif /* EDGEKD_FRONTEND_H_ */
