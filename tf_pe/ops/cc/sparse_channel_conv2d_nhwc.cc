// NHWC kernels vectorized over destination channels (see sparse_channel_conv2d_nhwc.h).
#include "sparse_channel_conv2d_nhwc.h"

#include <array>
#include <cstring>
#include <mutex>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tf_pe {
namespace {

template <typename T> struct Lanes;
template <> struct Lanes<float> {
  typedef float V __attribute__((vector_size(64)));
  static constexpr int kW = 16;
};
template <> struct Lanes<double> {
  typedef double V __attribute__((vector_size(64)));
  static constexpr int kW = 8;
};

constexpr int kMaxNJ = 4;                         // destination vectors per chunk
constexpr int kMaxRP[kMaxNJ + 1] = {0, 16, 14, 9, 6};  // pixels per forward block
constexpr int kMaxRK[kMaxNJ + 1] = {0, 16, 12, 8, 6};  // channels per gradient block

template <typename T>
inline typename Lanes<T>::V Load(const T* p) {
  typename Lanes<T>::V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The first n lanes at p (the rest zero); never touches p[n] or beyond.
template <typename T>
inline typename Lanes<T>::V LoadFirst(const T* p, int n) {
  typename Lanes<T>::V v = {};
  std::memcpy(&v, p, n * sizeof(T));
  return v;
}

// p[0:n] = the first n lanes of v.
template <typename T>
inline void StoreFirst(T* p, typename Lanes<T>::V v, int n) {
  std::memcpy(p, &v, n * sizeof(T));
}

#if defined(__AVX512F__)
template <>
inline Lanes<float>::V LoadFirst<float>(const float* p, int n) {
  return (Lanes<float>::V)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
}
template <>
inline Lanes<double>::V LoadFirst<double>(const double* p, int n) {
  return (Lanes<double>::V)_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
}
template <>
inline void StoreFirst<float>(float* p, Lanes<float>::V v, int n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), (__m512)v);
}
template <>
inline void StoreFirst<double>(double* p, Lanes<double>::V v, int n) {
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), (__m512d)v);
}
#endif

// ---------------------------------------------------------------- chunks

// Up to kMaxNJ vectors of one group's destination channels, with its weights
// packed as [tap][u][nj * W] (zeros in the lanes past m).
template <typename T>
struct Chunk {
  int64_t m = 0, k = 0;
  int nj = 0;
  std::vector<int32_t> src;  // source channel of each u < k
  std::vector<int32_t> dst;  // destination channel of each lane < m
  bool contiguous = false;   // dst[l] == dst[0] + l
  std::vector<T> w;           // with a kernel: [tap][u][ldw]
  std::vector<int64_t> wpos;  // without: [tap][u][lane < m], compact kernel positions
  int64_t ldw() const { return int64_t{nj} * Lanes<T>::kW; }
};

// Cuts every group into chunks; `split` also cuts at gaps in the destination
// channels, so that every chunk is contiguous. With a kernel, each chunk gets its
// packed weights, otherwise its kernel positions (for the kernel gradient); both
// are filled on the pool, a chunk per task (hundreds of thousands of entries on
// wide layers).
template <typename T>
std::vector<Chunk<T>> MakeChunks(const CPUDevice& d, const Gathered& g, bool split,
                                 const T* kernel) {
  constexpr int W = Lanes<T>::kW;
  const int64_t taps = g.kh * g.kw, U = g.used.size();
  std::vector<Chunk<T>> chunks;
  std::vector<std::pair<const Gathered::Group*, int64_t>> origin;  // group, first member
  for (const auto& grp : g.groups) {
    const int64_t K = grp.rows.size(), k = K / taps, n = grp.dst.size();
    if (k == 0) continue;
    for (int64_t j0 = 0; j0 < n;) {
      int64_t j1 = std::min<int64_t>(n, j0 + kMaxNJ * W);
      if (split)
        for (int64_t j = j0 + 1; j < j1; ++j)
          if (grp.dst[j] != grp.dst[j - 1] + 1) {
            j1 = j;
            break;
          }
      Chunk<T> c;
      c.m = j1 - j0;
      c.k = k;
      c.nj = static_cast<int>((c.m + W - 1) / W);
      for (int64_t u = 0; u < k; ++u) c.src.push_back(g.used[grp.rows[u] % U]);
      c.dst.assign(grp.dst.begin() + j0, grp.dst.begin() + j1);
      c.contiguous = c.dst.back() - c.dst.front() == c.m - 1;
      chunks.push_back(std::move(c));
      origin.emplace_back(&grp, j0);
      j0 = j1;
    }
  }
  ShardTiles(d, chunks.size(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Chunk<T>& c = chunks[i];
      const Gathered::Group& grp = *origin[i].first;
      const int64_t j0 = origin[i].second, K = grp.rows.size(), k = c.k, ldw = c.ldw();
      if (kernel != nullptr) {  // the packed weights (zero lanes past m)
        c.w.resize(taps * k * ldw);
        for (int64_t tu = 0; tu < taps * k; ++tu)
          std::fill(c.w.begin() + tu * ldw + c.m, c.w.begin() + (tu + 1) * ldw, T(0));
        for (int64_t l = 0; l < c.m; ++l) {
          const int64_t* pos = grp.wpos.data() + (j0 + l) * K;
          for (int64_t tu = 0; tu < taps * k; ++tu) c.w[tu * ldw + l] = kernel[pos[tu]];
        }
      } else {  // the positions, for the kernel gradient
        c.wpos.resize(taps * k * c.m);
        for (int64_t l = 0; l < c.m; ++l)
          for (int64_t tu = 0; tu < taps * k; ++tu)
            c.wpos[tu * c.m + l] = grp.wpos[(j0 + l) * K + tu];
      }
    }
  });
  return chunks;
}

// ---------------------------------------------------------------- geometry

// One spatial axis: destination coordinate o and tap s -> source coordinate.
struct Axis {
  int64_t src, dst, k, stride, dil, pad;
  bool transposed;
  // The source coordinate, or -1 where the tap falls outside (or, transposed,
  // between) the source positions.
  int64_t Src(int64_t o, int64_t s) const {
    if (!transposed) {
      const int64_t i = o * stride + s * dil - pad;
      return i >= 0 && i < src ? i : -1;
    }
    const int64_t v = o + pad - s * dil;
    if (v < 0 || v % stride != 0) return -1;
    return v / stride < src ? v / stride : -1;
  }
  int64_t DstStep() const { return transposed ? stride : 1; }  // per run pixel
  int64_t SrcStep() const { return transposed ? 1 : stride; }
};

// Destination columns w0, w0 + step, ... (count of them) whose valid taps are the
// same and whose source columns advance by SrcStep() per pixel.
struct Run {
  int64_t w0 = 0, count = 0;
  std::vector<int64_t> taps, src0;  // valid taps t and their source column at w0
};

std::vector<Run> ColumnRuns(const Axis& a) {
  std::vector<Run> runs;
  for (int64_t rho = 0; rho < a.DstStep(); ++rho) {
    Run* cur = nullptr;
    for (int64_t w = rho; w < a.dst; w += a.DstStep()) {
      std::vector<int64_t> taps, src;
      for (int64_t t = 0; t < a.k; ++t)
        if (a.Src(w, t) >= 0) taps.push_back(t), src.push_back(a.Src(w, t));
      bool extends = cur != nullptr && cur->taps == taps;
      for (size_t i = 0; extends && i < taps.size(); ++i)
        extends = src[i] == cur->src0[i] + cur->count * a.SrcStep();
      if (extends) {
        ++cur->count;
      } else {
        runs.push_back(Run{w, 1, taps, src});
        cur = &runs.back();
      }
    }
  }
  return runs;
}

// ---------------------------------------------------------------- forward / input grad

template <typename T>
struct Tap {
  int64_t off;  // source element offset of the run's first pixel
  const T* w;   // packed weights of this tap: [u][ldw]
};

// out[r][nj * W + l] = sum_taps sum_u src[tap.off + r * sstep + ch[u]] * tap.w[u][...]
template <typename T, int RP, int NJ>
void FwdKernel(const T* src, int64_t sstep, const Tap<T>* taps, int ntaps, const int32_t* ch,
               int64_t k, int64_t ldw, T* out) {
  typedef typename Lanes<T>::V V;
  constexpr int W = Lanes<T>::kW;
  V acc[RP][NJ];
  for (int r = 0; r < RP; ++r)
    for (int j = 0; j < NJ; ++j) acc[r][j] = V{};
  for (int i = 0; i < ntaps; ++i) {
    const T* s = src + taps[i].off;
    const T* w = taps[i].w;
    for (int64_t u = 0; u < k; ++u, w += ldw) {
      V wv[NJ];
      for (int j = 0; j < NJ; ++j) wv[j] = Load<T>(w + j * W);
      const T* su = s + ch[u];
      for (int r = 0; r < RP; ++r) {
        const T a = su[r * sstep];
        for (int j = 0; j < NJ; ++j) acc[r][j] += a * wv[j];
      }
    }
  }
  for (int r = 0; r < RP; ++r)
    for (int j = 0; j < NJ; ++j) std::memcpy(out + (r * NJ + j) * W, &acc[r][j], sizeof(V));
}

template <typename T>
using FwdFn = void (*)(const T*, int64_t, const Tap<T>*, int, const int32_t*, int64_t, int64_t,
                       T*);

template <typename T, int NJ, int... I>
std::array<FwdFn<T>, sizeof...(I)> FwdTable(std::integer_sequence<int, I...>) {
  return {{&FwdKernel<T, I + 1, NJ>...}};
}

template <typename T>
FwdFn<T> GetFwd(int rp, int nj) {
  static const auto t1 = FwdTable<T, 1>(std::make_integer_sequence<int, kMaxRP[1]>());
  static const auto t2 = FwdTable<T, 2>(std::make_integer_sequence<int, kMaxRP[2]>());
  static const auto t3 = FwdTable<T, 3>(std::make_integer_sequence<int, kMaxRP[3]>());
  static const auto t4 = FwdTable<T, 4>(std::make_integer_sequence<int, kMaxRP[4]>());
  switch (nj) {
    case 1: return t1[rp - 1];
    case 2: return t2[rp - 1];
    case 3: return t3[rp - 1];
    default: return t4[rp - 1];
  }
}

// Writes the m lanes of one pixel's result row to its destination channels.
template <typename T>
inline void StorePixel(const Chunk<T>& c, const T* row, T* pix) {
  constexpr int W = Lanes<T>::kW;
  if (c.contiguous) {
    T* p = pix + c.dst[0];
    int64_t l = 0;
    for (; l + W <= c.m; l += W) std::memcpy(p + l, row + l, W * sizeof(T));
    if (l < c.m) StoreFirst<T>(p + l, Load<T>(row + l), static_cast<int>(c.m - l));
  } else {
    for (int64_t l = 0; l < c.m; ++l) pix[c.dst[l]] = row[l];
  }
}

// `count` destination pixels dst, dst + dstep, ... (element offsets within an
// image) reading, for each tap, the source pixels at taps[i].first + r * sstep
// (element offsets within the source image) with weights of tap taps[i].second.
struct Job {
  int64_t dst, dstep, src, sstep, count;
  std::vector<std::pair<int64_t, int64_t>> taps;
};

// Interior row width from which each row is its own job (below it, register blocks
// of one row are too short to hide the FMA latency on one-vector chunks).
constexpr int64_t kMinRowJob = 8;

// The jobs of one image, in an order that is correct to run one after the other:
// for stride 1 with equal source and destination widths, the rows where every row
// tap is valid get one job per row over the columns where every tap is valid (or,
// for interiors narrower than kMinRowJob, one linear job over the flattened rows,
// which also writes wrong values into their border columns) followed by one
// vertical job per border column over those rows (which overwrites them); every
// other row is a row of column runs. The linear job computes the border columns
// twice: on 14x14 layers it was 5-18% slower than the row jobs.
std::vector<Job> MakeJobs(const Gathered& g) {
  const Axis rows{g.src_rows, g.dst_rows, g.kh, g.sr, g.dr, g.pad_top, g.transposed};
  const Axis cols{g.src_cols, g.dst_cols, g.kw, g.sc, g.dc, g.pad_left, g.transposed};
  const std::vector<Run> runs = ColumnRuns(cols);
  const int64_t cs = g.src_depth, cd = g.dst_depth;
  auto full_row = [&](int64_t h) {
    for (int64_t s = 0; s < g.kh; ++s)
      if (rows.Src(h, s) < 0) return false;
    return true;
  };
  int64_t h_lo = 0;
  while (h_lo < g.dst_rows && !full_row(h_lo)) ++h_lo;
  int64_t h_hi = h_lo;
  while (h_hi < g.dst_rows && full_row(h_hi)) ++h_hi;
  const Run* inner = nullptr;
  int inner_runs = 0;
  for (const Run& run : runs)
    if (static_cast<int64_t>(run.taps.size()) == g.kw) inner = &run, ++inner_runs;
  const bool framed = h_lo < h_hi && g.sr == 1 && g.sc == 1 && g.src_cols == g.dst_cols &&
                      inner_runs == 1;
  std::vector<Job> jobs;
  auto row_jobs = [&](int64_t h) {
    for (const Run& run : runs) {
      Job job{(h * g.dst_cols + run.w0) * cd, cols.DstStep() * cd, 0, cols.SrcStep() * cs,
              run.count, {}};
      for (int64_t s = 0; s < g.kh; ++s)
        if (rows.Src(h, s) >= 0)
          for (size_t i = 0; i < run.taps.size(); ++i)
            job.taps.emplace_back((rows.Src(h, s) * g.src_cols + run.src0[i]) * cs,
                                  s * g.kw + run.taps[i]);
      jobs.push_back(std::move(job));
    }
  };
  for (int64_t h = 0; h < g.dst_rows; ++h) {
    if (framed && h == h_lo) {
      const int64_t w_lo = inner->w0, w_hi = inner->w0 + inner->count;
      const bool per_row = inner->count >= kMinRowJob;
      for (int64_t r = h_lo; r < (per_row ? h_hi : h_lo + 1); ++r) {
        Job job{(r * g.dst_cols + w_lo) * cd, cd, 0, cs,
                per_row ? w_hi - w_lo : (h_hi - 1 - h_lo) * g.dst_cols + (w_hi - w_lo), {}};
        for (int64_t s = 0; s < g.kh; ++s)
          for (int64_t t = 0; t < g.kw; ++t)
            job.taps.emplace_back((rows.Src(r, s) * g.src_cols + cols.Src(w_lo, t)) * cs,
                                  s * g.kw + t);
        jobs.push_back(std::move(job));
      }
      for (const Run& run : runs) {
        if (&run == inner) continue;
        for (int64_t i = 0; i < run.count; ++i) {
          const int64_t w = run.w0 + i * cols.DstStep();
          Job col{(h_lo * g.dst_cols + w) * cd, g.dst_cols * cd, 0, g.src_cols * cs,
                  h_hi - h_lo, {}};
          for (int64_t s = 0; s < g.kh; ++s)
            for (size_t j = 0; j < run.taps.size(); ++j)
              col.taps.emplace_back(
                  (rows.Src(h_lo, s) * g.src_cols + run.src0[j] + i * cols.SrcStep()) * cs,
                  s * g.kw + run.taps[j]);
          jobs.push_back(std::move(col));
        }
      }
      h = h_hi - 1;
      continue;
    }
    row_jobs(h);
  }
  return jobs;
}

template <typename T>
T* ThreadBuffer(int slot, int64_t size) {
  thread_local std::vector<T> buffers[2];
  if (static_cast<int64_t>(buffers[slot].size()) < size) buffers[slot].resize(size);
  return buffers[slot].data();
}

}  // namespace

double NhwcLaneUse(const Gathered& g, int bytes) {
  const int64_t W = 64 / bytes;
  int64_t used = 0, spent = 0;
  for (const auto& grp : g.groups) {
    const int64_t m = grp.dst.size();
    used += m;
    spent += (m + W - 1) / W * W;
  }
  return spent == 0 ? 0.0 : static_cast<double>(used) / spent;
}

template <typename T>
void NhwcConv(const CPUDevice& d, const Gathered& g, const T* kernel, const T* src, T* dst) {
  constexpr int W = Lanes<T>::kW;
  const int64_t total = g.batch * g.dst_rows * g.dst_cols * g.dst_depth;
  if (total == 0) return;
  if (!g.covers_dst) std::fill(dst, dst + total, T(0));
  const std::vector<Chunk<T>> chunks = MakeChunks<T>(d, g, !g.transposed, kernel);
  if (chunks.empty()) return;
  const std::vector<Job> jobs = MakeJobs(g);
  const int64_t src_image = g.src_rows * g.src_cols * g.src_depth;
  const int64_t dst_image = g.dst_rows * g.dst_cols * g.dst_depth;
  // Pixels per block: every chunk passes over a block's source pixels before the
  // next block, so they should stay in L1 (a chunk's channels are scattered over
  // every cache line of a pixel) or, where a few pixels already exceed it, in L2.
  auto block_of = [&](const Job& job) {
    int64_t lo = 0, hi = 0;
    for (const auto& tap : job.taps) lo = std::min(lo, tap.first), hi = std::max(hi, tap.first);
    auto bytes = [&](int64_t pixels) {
      return static_cast<int64_t>(((pixels - 1) * job.sstep + hi - lo + g.src_depth) * sizeof(T));
    };
    int64_t block = 24;
    if (bytes(block) <= (32 << 10)) {
      while (block < 240 && bytes(block + 24) <= (32 << 10)) block += 24;
      return block;
    }
    block = 120;
    while (bytes(block + 120) <= (192 << 10)) block += 120;
    return block;
  };
  ShardTiles(d, g.batch, [&](int64_t begin, int64_t end) {
    T* out = ThreadBuffer<T>(0, kMaxRP[1] * kMaxNJ * W);
    std::vector<Tap<T>> taps(g.kh * g.kw);
    for (int64_t n = begin; n < end; ++n) {
      const T* img = src + n * src_image;
      T* dimg = dst + n * dst_image;
      for (const Job& job : jobs) {
        const int ntaps = static_cast<int>(job.taps.size());
        const int64_t block = block_of(job);
        for (int64_t b0 = 0; b0 < job.count; b0 += block) {
          const int64_t b1 = std::min(job.count, b0 + block);
          for (const Chunk<T>& c : chunks) {
            const int64_t ldw = c.ldw();
            const int max_rp = kMaxRP[c.nj];
            for (int i = 0; i < ntaps; ++i)
              taps[i] = {job.taps[i].first, c.w.data() + job.taps[i].second * c.k * ldw};
            for (int64_t p = b0; p < b1; p += max_rp) {
              const int rp = static_cast<int>(std::min<int64_t>(max_rp, b1 - p));
              GetFwd<T>(rp, c.nj)(img + job.src + p * job.sstep, job.sstep, taps.data(),
                                  ntaps, c.src.data(), c.k, ldw, out);
              T* pix = dimg + job.dst + p * job.dstep;
              for (int r = 0; r < rp; ++r) StorePixel(c, out + r * ldw, pix + r * job.dstep);
            }
          }
        }
      }
    }
  });
}

// ---------------------------------------------------------------- kernel gradient

namespace {

// acc[i][nj * W + l] += sum over the rows x cols pixels of x[pixel + i] * dy[pixel + ...],
// the last dy vector holding `tail` lanes.
template <typename T, int RK, int NJ>
void OuterKernel(const T* x, int64_t xrow, int64_t xcol, const T* dy, int64_t dyrow,
                int64_t dycol, int64_t nrows, int64_t ncols, int tail, T* acc, int64_t ldw) {
  typedef typename Lanes<T>::V V;
  constexpr int W = Lanes<T>::kW;
  V a[RK][NJ];
  for (int i = 0; i < RK; ++i)
    for (int j = 0; j < NJ; ++j) a[i][j] = Load<T>(acc + i * ldw + j * W);
  for (int64_t r = 0; r < nrows; ++r) {
    const T* xp = x + r * xrow;
    const T* dp = dy + r * dyrow;
    for (int64_t q = 0; q < ncols; ++q, xp += xcol, dp += dycol) {
      V dv[NJ];
      for (int j = 0; j + 1 < NJ; ++j) dv[j] = Load<T>(dp + j * W);
      dv[NJ - 1] = LoadFirst<T>(dp + (NJ - 1) * W, tail);
      for (int i = 0; i < RK; ++i) {
        const T xv = xp[i];
        for (int j = 0; j < NJ; ++j) a[i][j] += xv * dv[j];
      }
    }
  }
  for (int i = 0; i < RK; ++i)
    for (int j = 0; j < NJ; ++j) std::memcpy(acc + i * ldw + j * W, &a[i][j], sizeof(V));
}

template <typename T>
using GradFn = void (*)(const T*, int64_t, int64_t, const T*, int64_t, int64_t, int64_t, int64_t,
                        int, T*, int64_t);

template <typename T, int NJ, int... I>
std::array<GradFn<T>, sizeof...(I)> GradTable(std::integer_sequence<int, I...>) {
  return {{&OuterKernel<T, I + 1, NJ>...}};
}

template <typename T>
GradFn<T> GetGrad(int rk, int nj) {
  static const auto t1 = GradTable<T, 1>(std::make_integer_sequence<int, kMaxRK[1]>());
  static const auto t2 = GradTable<T, 2>(std::make_integer_sequence<int, kMaxRK[2]>());
  static const auto t3 = GradTable<T, 3>(std::make_integer_sequence<int, kMaxRK[3]>());
  static const auto t4 = GradTable<T, 4>(std::make_integer_sequence<int, kMaxRK[4]>());
  switch (nj) {
    case 1: return t1[rk - 1];
    case 2: return t2[rk - 1];
    case 3: return t3[rk - 1];
    default: return t4[rk - 1];
  }
}

// [first, last) of the destination coordinates in [lo, hi) whose tap s is valid
// (a contiguous range for the forward mapping).
std::pair<int64_t, int64_t> ValidRange(const Axis& a, int64_t s, int64_t lo, int64_t hi) {
  int64_t first = lo, last = hi;
  while (first < hi && a.Src(first, s) < 0) ++first;
  while (last > first && a.Src(last - 1, s) < 0) --last;
  return {first, last};
}

}  // namespace

template <typename T>
void NhwcKernelGrad(const CPUDevice& d, const Gathered& g, const T* x, const T* dy, T* grad) {
  constexpr int W = Lanes<T>::kW;
  const std::vector<Chunk<T>> chunks = MakeChunks<T>(d, g, /*split=*/true, nullptr);
  if (chunks.empty() || g.batch * g.dst_rows * g.dst_cols == 0) return;
  const int64_t taps = g.kh * g.kw;
  std::vector<int64_t> offset(chunks.size() + 1, 0);
  for (size_t i = 0; i < chunks.size(); ++i)
    offset[i + 1] = offset[i] + taps * chunks[i].k * chunks[i].ldw();
  const Axis rows{g.src_rows, g.dst_rows, g.kh, g.sr, g.dr, g.pad_top, false};
  // Padded source columns read by the taps of all destination columns.
  const int64_t wp = (g.dst_cols - 1) * g.sc + (g.kw - 1) * g.dc + 1;
  // Units of about 256 destination pixels: (image, block of rows).
  const int64_t block = std::min<int64_t>(g.dst_rows,
                                          std::max<int64_t>(1, (256 + g.dst_cols - 1) / g.dst_cols));
  const int64_t per_image = (g.dst_rows + block - 1) / block;
  std::vector<T> sum(offset.back(), T(0));
  std::mutex mu;
  ShardTiles(d, g.batch * per_image, [&](int64_t begin, int64_t end) {
    std::vector<T> acc(offset.back(), T(0));
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t n = unit / per_image, h0 = (unit % per_image) * block;
      const int64_t h1 = std::min(g.dst_rows, h0 + block);
      // Source rows any tap of these destination rows reads.
      int64_t ih_lo = g.src_rows, ih_hi = 0;
      for (int64_t s = 0; s < g.kh; ++s) {
        const auto hr = ValidRange(rows, s, h0, h1);
        if (hr.first < hr.second) {
          ih_lo = std::min(ih_lo, rows.Src(hr.first, s));
          ih_hi = std::max(ih_hi, rows.Src(hr.second - 1, s) + 1);
        }
      }
      if (ih_lo >= ih_hi) continue;
      const T* img = x + n * g.src_rows * g.src_cols * g.src_depth;
      for (size_t ci = 0; ci < chunks.size(); ++ci) {
        const Chunk<T>& c = chunks[ci];
        const int64_t k = c.k, ldw = c.ldw();
        // The chunk's source channels of those rows, gathered with zero columns
        // for the padding: xg[row][cp][u], source column cp - pad_left. Every tap
        // of every destination column then reads inside xg, and (for dilation 1)
        // the kw taps x k channels of a row tap are kw * k consecutive values.
        T* xg = ThreadBuffer<T>(1, (ih_hi - ih_lo) * wp * k);
        for (int64_t ih = ih_lo; ih < ih_hi; ++ih)
          for (int64_t cp = 0; cp < wp; ++cp) {
            const int64_t iw = cp - g.pad_left;
            T* o = xg + ((ih - ih_lo) * wp + cp) * k;
            if (iw < 0 || iw >= g.src_cols) {
              std::fill(o, o + k, T(0));
              continue;
            }
            const T* px = img + (ih * g.src_cols + iw) * g.src_depth;
            for (int64_t u = 0; u < k; ++u) o[u] = px[c.src[u]];
          }
        const int tail = static_cast<int>(c.m - (c.nj - 1) * W);
        const int max_rk = kMaxRK[c.nj];
        // Taps per call: all kw of a row tap when their values are consecutive.
        const int64_t fused = g.dc == 1 ? g.kw : 1;
        for (int64_t s = 0; s < g.kh; ++s) {
          const auto hr = ValidRange(rows, s, h0, h1);
          if (hr.first >= hr.second) continue;
          const T* db = dy + (n * g.dst_rows + hr.first) * g.dst_cols * g.dst_depth + c.dst[0];
          for (int64_t t = 0; t < g.kw; t += fused) {
            const T* xb = xg + ((rows.Src(hr.first, s) - ih_lo) * wp + t * g.dc) * k;
            T* ab = acc.data() + offset[ci] + (s * g.kw + t) * k * ldw;
            for (int64_t u0 = 0; u0 < fused * k; u0 += max_rk) {
              const int rk = static_cast<int>(std::min<int64_t>(max_rk, fused * k - u0));
              GetGrad<T>(rk, c.nj)(xb + u0, g.sr * wp * k, g.sc * k, db,
                                   g.dst_cols * g.dst_depth, g.dst_depth, hr.second - hr.first,
                                   g.dst_cols, tail, ab + u0 * ldw, ldw);
            }
          }
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += acc[i];
  }, 2 * d.numThreads());
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const Chunk<T>& c = chunks[ci];
    const int64_t ldw = c.ldw();
    for (int64_t tu = 0; tu < taps * c.k; ++tu)
      for (int64_t l = 0; l < c.m; ++l)
        grad[c.wpos[tu * c.m + l]] = sum[offset[ci] + tu * ldw + l];
  }
}

#define TF_PE_NHWC(T)                                                                      \
  template void NhwcConv<T>(const CPUDevice&, const Gathered&, const T*, const T*, T*);    \
  template void NhwcKernelGrad<T>(const CPUDevice&, const Gathered&, const T*, const T*, T*);
TF_PE_NHWC(float)
TF_PE_NHWC(double)
#undef TF_PE_NHWC

}  // namespace tf_pe
