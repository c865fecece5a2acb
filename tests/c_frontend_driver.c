/*
 * Host driver of the C front-end (tests/test_c_frontend.py, benchmarks/c_frontend.py).
 *
 *   driver SAMPLES.f32 OUT_PREFIX [REPEATS [slot]]
 *
 * Reads raw float32 samples, runs edgekd_fe_prepare and every window REPEATS times (default 1; with "slot" the
 * samples are first copied into edgekd_fe_sample_slot(work)), writes OUT_PREFIX.bandpass.f32,
 * OUT_PREFIX.features.f32 (windows, mels, frames) and OUT_PREFIX.input.i8 (the int8 model input), and prints
 * "rc=<code> windows=<n> work_bytes=<b> prepare_ns=<median> window_ns=<median> recording_ns=<median>".
 * Exit status 0 when the front-end accepted the recording, 3 when it refused it.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgekd_frontend.h"

static edgekd_fe_real work[EDGEKD_FE_WORK_REALS];

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

static long long median(long long *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, cmp_ll);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int write_file(const char *prefix, const char *suffix, const void *data, size_t bytes) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s%s", prefix, suffix);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, bytes, f) != bytes) return 1;
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  FILE *f;
  long size;
  size_t n, w, r, repeats = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 1;
  int use_slot = argc > 4 && strcmp(argv[4], "slot") == 0, rc = EDGEKD_FE_OK;
  float *samples, *features;
  int8_t *input;
  long long *t_prep, *t_win, *t_rec;
  size_t n_win = 0;
  edgekd_fe_state st;
  if (argc < 3 || repeats == 0) {
    fprintf(stderr, "usage: %s SAMPLES.f32 OUT_PREFIX [REPEATS [slot]]\n", argv[0]);
    return 2;
  }
  f = fopen(argv[1], "rb");
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) return 2;
  n = (size_t)size / sizeof(float);
  samples = malloc(n * sizeof(float) + 1);
  if (samples == NULL || fread(samples, sizeof(float), n, f) != n) return 2;
  fclose(f);
  features = malloc((size_t)(edgekd_fe_windows(n) + 1) * EDGEKD_FE_INPUT_VALUES * sizeof(float));
  input = malloc((size_t)(edgekd_fe_windows(n) + 1) * EDGEKD_FE_INPUT_VALUES);
  t_prep = malloc(repeats * sizeof *t_prep);
  t_rec = malloc(repeats * sizeof *t_rec);
  t_win = malloc(repeats * (edgekd_fe_windows(n) + 1) * sizeof *t_win);
  if (features == NULL || input == NULL || t_prep == NULL || t_rec == NULL || t_win == NULL) return 2;
  for (r = 0; r < repeats && rc == EDGEKD_FE_OK; ++r) {
    const float *src = samples;
    long long t0, t1;
    if (use_slot && n <= EDGEKD_FE_MAX_SAMPLES) {
      memcpy(edgekd_fe_sample_slot(work), samples, n * sizeof(float));
      src = edgekd_fe_sample_slot(work);
    }
    t0 = now_ns();
    rc = edgekd_fe_prepare(&st, src, n, work, sizeof work);
    t1 = now_ns();
    t_prep[r] = t1 - t0;
    for (w = 0; rc == EDGEKD_FE_OK && w < st.n_windows; ++w) {
      long long a = now_ns();
      rc = edgekd_fe_window(&st, w, input + w * EDGEKD_FE_INPUT_VALUES, features + w * EDGEKD_FE_INPUT_VALUES);
      t_win[n_win++] = now_ns() - a;
    }
    t_rec[r] = now_ns() - t0;
  }
  printf("rc=%d windows=%lu work_bytes=%lu prepare_ns=%lld window_ns=%lld recording_ns=%lld\n", rc,
         rc == EDGEKD_FE_OK ? (unsigned long)st.n_windows : 0UL, (unsigned long)EDGEKD_FE_WORK_BYTES,
         median(t_prep, r), median(t_win, n_win), median(t_rec, r));
  if (rc != EDGEKD_FE_OK) return 3;
  for (w = 0; w < n; ++w) samples[w] = (float)edgekd_fe_bandpassed(&st)[w]; /* float32 values in either build */
  if (write_file(argv[2], ".bandpass.f32", samples, n * sizeof(float)) ||
      write_file(argv[2], ".features.f32", features, st.n_windows * EDGEKD_FE_INPUT_VALUES * sizeof(float)) ||
      write_file(argv[2], ".input.i8", input, st.n_windows * EDGEKD_FE_INPUT_VALUES))
    return 2;
  free(samples);
  free(features);
  free(input);
  free(t_prep);
  free(t_rec);
  free(t_win);
  return 0;
}
