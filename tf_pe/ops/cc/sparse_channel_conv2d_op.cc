// TfPe>SparseChannelConv2D and its gradient ops: CPU kernels.
//
// Algorithm (see sparse_channel_conv2d.h for the compact connection structure).
// Destination channels whose source-channel sets are identical form a *group*
// (for the "block" pattern a group is one block; for "random" it is usually a
// single channel). The flattened destination pixels are cut into tiles of TP
// pixels; for each tile one transposed im2col buffer A[row][pixel] is gathered,
// holding only the source channels that some connection uses (rows are
// (s, t, used channel)). Each group then computes, for up to MR destination
// channels at a time, out[j][pixel] = sum_k w[j][k] * A[row_k][pixel] with a
// register-blocked micro-kernel vectorized over pixels. Work is proportional to
// the active connections (plus one im2col copy per used channel and tap); the
// only scratch is one tile (TP x rows) per thread, never a dense masked kernel.
//
// The input gradient is the same computation on the transposed structure
// (source = out_backprop, destination = input channels, grouped by identical
// output-channel sets, "transposed" pixel mapping), so every destination element
// is written by exactly one group and tiles can run in parallel without atomics.
// The kernel gradient gathers the same im2col tiles and dots them with the
// gathered out_backprop columns, accumulating per shard.
//
// These "channel-plane" kernels (vectorized over pixels) are one of two families;
// the other, in sparse_channel_conv2d_nhwc.cc, works on NHWC directly and is
// vectorized over destination channels. `UseNhwc` below picks one per call.
#define EIGEN_USE_THREADS

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "sparse_channel_conv2d.h"
#include "sparse_channel_conv2d_nhwc.h"
#include "sparse_channel_conv2d_plan.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace tf_pe {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;
namespace errors = ::tensorflow::errors;

// ---------------------------------------------------------------- registration

static absl::Status OutputSize(int64_t in, int64_t k, int64_t stride, int64_t dil,
                               const std::string& padding, int64_t* out, int64_t* pad) {
  const int64_t ek = (k - 1) * dil + 1;
  if (padding == "VALID") {
    *out = (in - ek + stride) / stride;
    *pad = 0;
  } else {
    *out = (in + stride - 1) / stride;
    *pad = std::max<int64_t>(0, (*out - 1) * stride + ek - in) / 2;
  }
  if (*out < 0) {
    return errors::InvalidArgument("Computed output size would be negative: input ", in,
                                   ", effective kernel ", ek, ", stride ", stride);
  }
  return absl::OkStatus();
}

static absl::Status ForwardShape(InferenceContext* c) {
  ShapeHandle input, kernel, indptr, indices;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &input));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &kernel));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &indptr));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &indices));
  std::vector<int32_t> strides, dilations;
  std::string padding;
  TF_RETURN_IF_ERROR(c->GetAttr("strides", &strides));
  TF_RETURN_IF_ERROR(c->GetAttr("dilations", &dilations));
  TF_RETURN_IF_ERROR(c->GetAttr("padding", &padding));
  if (strides.size() != 2 || dilations.size() != 2) {
    return errors::InvalidArgument("strides and dilations must have 2 elements");
  }
  DimensionHandle depth = c->UnknownDim();
  if (c->ValueKnown(c->Dim(indptr, 0))) {
    const int64_t n = c->Value(c->Dim(indptr, 0));
    if (n < 1) return errors::InvalidArgument("indptr must have at least one element");
    depth = c->MakeDim(n - 1);
  }
  DimensionHandle spatial[2];
  for (int i = 0; i < 2; ++i) {
    DimensionHandle in = c->Dim(input, 1 + i), k = c->Dim(kernel, i);
    if (c->ValueKnown(in) && c->ValueKnown(k)) {
      int64_t out, pad;
      TF_RETURN_IF_ERROR(OutputSize(c->Value(in), c->Value(k), strides[i], dilations[i],
                                    padding, &out, &pad));
      spatial[i] = c->MakeDim(out);
    } else {
      spatial[i] = c->UnknownDim();
    }
  }
  c->set_output(0, c->MakeShape({c->Dim(input, 0), spatial[0], spatial[1], depth}));
  return absl::OkStatus();
}

#define TF_PE_CONV_ATTRS                                   \
  Attr("T: {float, double}")                               \
      .Attr("strides: list(int) = [1, 1]")                 \
      .Attr("padding: {'SAME', 'VALID'}")                  \
      .Attr("dilations: list(int) = [1, 1]")

REGISTER_OP("TfPe>SparseChannelConv2D")
    .Input("input: T")
    .Input("kernel: T")
    .Input("indptr: int32")
    .Input("indices: int32")
    .Output("output: T")
    .TF_PE_CONV_ATTRS
    .SetShapeFn(ForwardShape)
    .Doc(R"doc(
Channel-sparse 2-D convolution, NHWC. Output channel j sees the input channels
indices[indptr[j]:indptr[j+1]] (strictly increasing) through the kernel slices
kernel[:, :, indptr[j]:indptr[j+1]]. Work is proportional to the connections.
)doc");

REGISTER_OP("TfPe>SparseChannelConv2DBackpropInput")
    .Input("input_sizes: int32")
    .Input("kernel: T")
    .Input("indptr: int32")
    .Input("indices: int32")
    .Input("out_backprop: T")
    .Output("output: T")
    .TF_PE_CONV_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle s;
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(0, &s));
      TF_RETURN_IF_ERROR(c->WithRank(s, 4, &s));
      c->set_output(0, s);
      return absl::OkStatus();
    });

REGISTER_OP("TfPe>SparseChannelConv2DBackpropKernel")
    .Input("input: T")
    .Input("kernel_sizes: int32")
    .Input("indptr: int32")
    .Input("indices: int32")
    .Input("out_backprop: T")
    .Output("output: T")
    .TF_PE_CONV_ATTRS
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle s;
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(1, &s));
      TF_RETURN_IF_ERROR(c->WithRank(s, 3, &s));
      c->set_output(0, s);
      return absl::OkStatus();
    });

// ---------------------------------------------------------------- micro-kernels

template <typename T> struct Vec;
template <> struct Vec<float> {
  typedef float type __attribute__((vector_size(64)));
  static constexpr int kWidth = 16;
};
template <> struct Vec<double> {
  typedef double type __attribute__((vector_size(64)));
  static constexpr int kWidth = 8;
};

template <typename V, typename T>
inline V LoadV(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

constexpr int kTile = 64;        // destination pixels per tile (forward, input grad)
constexpr int kGradTile = 256;   // pixels per tile for the kernel gradient
constexpr int kMaxMR = 6;        // destination channels per micro-kernel call

// out[j][0:kTile] = sum_k w[j*K + k] * A[offs[k] + 0:kTile], j < MR.
template <typename T, int MR>
void MicroKernel(const T* A, const int64_t* offs, int64_t K, const T* w, T* out) {
  typedef typename Vec<T>::type V;
  constexpr int NV = kTile / Vec<T>::kWidth;
  V acc[MR][NV];
  for (int j = 0; j < MR; ++j)
    for (int v = 0; v < NV; ++v) acc[j][v] = V{};
  for (int64_t k = 0; k < K; ++k) {
    const T* a = A + offs[k];
    V av[NV];
    for (int v = 0; v < NV; ++v) av[v] = LoadV<V>(a + v * Vec<T>::kWidth);
    for (int j = 0; j < MR; ++j) {
      const T b = w[j * K + k];
      for (int v = 0; v < NV; ++v) acc[j][v] += b * av[v];
    }
  }
  for (int j = 0; j < MR; ++j)
    std::memcpy(out + j * kTile, acc[j], sizeof(acc[j]));
}

template <typename T>
void MicroKernelN(int mr, const T* A, const int64_t* rows, int64_t K, const T* w, T* out) {
  switch (mr) {
    case 1: return MicroKernel<T, 1>(A, rows, K, w, out);
    case 2: return MicroKernel<T, 2>(A, rows, K, w, out);
    case 3: return MicroKernel<T, 3>(A, rows, K, w, out);
    case 4: return MicroKernel<T, 4>(A, rows, K, w, out);
    case 5: return MicroKernel<T, 5>(A, rows, K, w, out);
    default: return MicroKernel<T, 6>(A, rows, K, w, out);
  }
}

template <typename V, int W>
inline auto HSum(V v) {
  // Tree reduction of the lanes.
  typename std::remove_reference<decltype(v[0])>::type lanes[W];
  std::memcpy(lanes, &v, sizeof(v));
  for (int h = W / 2; h >= 1; h /= 2)
    for (int i = 0; i < h; ++i) lanes[i] += lanes[i + h];
  return lanes[0];
}

// grad[pos[j*K + k]] += sum_p A[offs[k] + p] * D[j][p] for j < MR, k < K, p < kGradTile;
// blocked over 4 rows x MR outputs so that loads are shared.
template <typename T, int MR>
void GradKernel(const T* A, const int64_t* rows, int64_t K, const T* const* D,
                const int64_t* pos, T* grad) {
  typedef typename Vec<T>::type V;
  constexpr int W = Vec<T>::kWidth, NV = kGradTile / W, RB = 4;
  int64_t k0 = 0;
  for (; k0 + RB <= K; k0 += RB) {
    V acc[MR][RB];
    for (int j = 0; j < MR; ++j)
      for (int r = 0; r < RB; ++r) acc[j][r] = V{};
    const T* a[RB];
    for (int r = 0; r < RB; ++r) a[r] = A + rows[k0 + r];
    for (int v = 0; v < NV; ++v) {
      V av[RB];
      for (int r = 0; r < RB; ++r) av[r] = LoadV<V>(a[r] + v * W);
      for (int j = 0; j < MR; ++j) {
        const V d = LoadV<V>(D[j] + v * W);
        for (int r = 0; r < RB; ++r) acc[j][r] += av[r] * d;
      }
    }
    for (int j = 0; j < MR; ++j)
      for (int r = 0; r < RB; ++r) grad[pos[j * K + k0 + r]] += HSum<V, W>(acc[j][r]);
  }
  for (; k0 < K; ++k0) {
    const T* a = A + rows[k0];
    for (int j = 0; j < MR; ++j) {
      V acc = V{};
      for (int v = 0; v < NV; ++v)
        acc += LoadV<V>(a + v * W) * LoadV<V>(D[j] + v * W);
      grad[pos[j * K + k0]] += HSum<V, W>(acc);
    }
  }
}

template <typename T>
void GradKernelN(int mr, const T* A, const int64_t* rows, int64_t K, const T* const* D,
                 const int64_t* pos, T* grad) {
  switch (mr) {
    case 1: return GradKernel<T, 1>(A, rows, K, D, pos, grad);
    case 2: return GradKernel<T, 2>(A, rows, K, D, pos, grad);
    case 3: return GradKernel<T, 3>(A, rows, K, D, pos, grad);
    case 4: return GradKernel<T, 4>(A, rows, K, D, pos, grad);
    case 5: return GradKernel<T, 5>(A, rows, K, D, pos, grad);
    default: return GradKernel<T, 6>(A, rows, K, D, pos, grad);
  }
}

// ---------------------------------------------------------------- structure

// Builds groups from per-destination lists of (source channel, kernel position).
static void BuildGroups(const std::vector<std::vector<std::pair<int32_t, int64_t>>>& lists,
                        int64_t src_depth, int64_t kh, int64_t kw, int64_t nnz, Gathered* g) {
  std::map<std::vector<int32_t>, int> by_set;
  std::vector<std::vector<int32_t>> sets;
  std::vector<std::vector<int32_t>> members;
  int64_t covered = 0;
  for (size_t j = 0; j < lists.size(); ++j) {
    if (lists[j].empty()) continue;
    ++covered;
    std::vector<int32_t> set;
    for (const auto& e : lists[j]) set.push_back(e.first);
    auto it = by_set.find(set);
    if (it == by_set.end()) {
      it = by_set.emplace(set, static_cast<int>(sets.size())).first;
      sets.push_back(set);
      members.emplace_back();
    }
    members[it->second].push_back(static_cast<int32_t>(j));
  }
  g->covers_dst = covered == static_cast<int64_t>(lists.size());
  std::vector<int32_t> local(src_depth, -1);
  for (const auto& set : sets)
    for (int32_t c : set)
      if (local[c] < 0) {
        local[c] = static_cast<int32_t>(g->used.size());
        g->used.push_back(c);
      }
  const int64_t U = g->used.size();
  for (size_t s = 0; s < sets.size(); ++s) {
    Gathered::Group grp;
    const int64_t k = sets[s].size(), K = kh * kw * k;
    for (int64_t tap = 0; tap < kh * kw; ++tap)
      for (int32_t c : sets[s]) grp.rows.push_back(static_cast<int32_t>(tap * U + local[c]));
    grp.dst = members[s];
    grp.wpos.resize(grp.dst.size() * K);
    for (size_t jl = 0; jl < grp.dst.size(); ++jl) {
      const auto& l = lists[grp.dst[jl]];
      for (int64_t tap = 0; tap < kh * kw; ++tap)
        for (int64_t u = 0; u < k; ++u) grp.wpos[jl * K + tap * k + u] = tap * nnz + l[u].second;
    }
    g->groups.push_back(std::move(grp));
  }
}

// [n, a, b] -> [n, b, a] (NHWC <-> NCHW), in 16 x 16 blocks, sharded over (n, a-block).
template <typename T>
static void Transpose12(const CPUDevice& d, const T* src, int64_t n, int64_t a, int64_t b,
                        T* dst) {
  constexpr int64_t kB = 16;
  const int64_t ablocks = (a + kB - 1) / kB;
  ShardTiles(d, n * ablocks, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t img = job / ablocks, a0 = (job % ablocks) * kB;
      const int64_t a1 = std::min(a, a0 + kB);
      const T* in = src + img * a * b;
      T* out = dst + img * a * b;
      for (int64_t b0 = 0; b0 < b; b0 += kB) {
        const int64_t b1 = std::min(b, b0 + kB);
        for (int64_t j = b0; j < b1; ++j)
          for (int64_t i = a0; i < a1; ++i) out[j * a + i] = in[i * b + j];
      }
    }
  });
}

// Per-thread scratch that keeps its memory between calls: large per-call
// allocations would page-fault on every call (measured: +80% time at batch 32).
// Slots 0-1 are used inside shards, slots 2-3 by the thread that runs Compute.
template <typename T>
static T* Scratch(int slot, int64_t size) {
  thread_local std::vector<T> buffers[6];
  if (static_cast<int64_t>(buffers[slot].size()) < size) buffers[slot].resize(size);
  return buffers[slot].data();
}

template <typename T>
using Buffer = std::unique_ptr<T[]>;

// Fills A[row][0:tile] for the destination pixels q0 .. q0+count-1 of image n, from
// a channel-major (NCHW) source; zeros beyond `count` and outside the image. For
// each tap the source offsets are computed once and cut into runs of equal step
// (contiguous for stride 1), so every row is a few memcpy's.
template <typename T>
static void Im2Col(const Gathered& g, const T* src, int64_t n, int64_t q0, int64_t count,
                   int tile, T* A, int64_t* scratch) {
  const int64_t U = g.used.size();
  const int64_t plane = g.src_rows * g.src_cols;
  const T* img = src + n * g.src_depth * plane;
  int64_t* hh = scratch;
  int64_t* ww = scratch + tile;
  int64_t* offs = scratch + 2 * tile;
  int64_t* rs = scratch + 3 * tile;  // run start, length, offset, step
  int64_t* rl = scratch + 4 * tile;
  int64_t* ro = scratch + 5 * tile;
  int64_t* rp = scratch + 6 * tile;
  int64_t h = q0 / g.dst_cols, w = q0 % g.dst_cols;
  for (int64_t i = 0; i < count; ++i) {
    hh[i] = g.transposed ? h + g.pad_top : h * g.sr - g.pad_top;
    ww[i] = g.transposed ? w + g.pad_left : w * g.sc - g.pad_left;
    if (++w == g.dst_cols) w = 0, ++h;
  }
  for (int64_t s = 0; s < g.kh; ++s) {
    for (int64_t t = 0; t < g.kw; ++t) {
      for (int64_t i = 0; i < tile; ++i) {
        offs[i] = -1;
        if (i >= count) continue;
        int64_t ih, iw;
        bool ok;
        if (!g.transposed) {
          ih = hh[i] + s * g.dr;
          iw = ww[i] + t * g.dc;
          ok = ih >= 0 && ih < g.src_rows && iw >= 0 && iw < g.src_cols;
        } else {
          const int64_t nh = hh[i] - s * g.dr, nw = ww[i] - t * g.dc;
          ih = nh / g.sr;
          iw = nw / g.sc;
          ok = nh >= 0 && nh % g.sr == 0 && ih < g.src_rows && nw >= 0 && nw % g.sc == 0 &&
               iw < g.src_cols;
        }
        if (ok) offs[i] = ih * g.src_cols + iw;
      }
      int64_t runs = 0;
      for (int64_t i = 0; i < tile;) {
        int64_t j = i + 1, step = 0;
        if (offs[i] < 0) {
          while (j < tile && offs[j] < 0) ++j;
        } else if (j < tile && offs[j] > offs[i]) {
          step = offs[j] - offs[i];
          while (j < tile && offs[j] == offs[j - 1] + step) ++j;
        }
        rs[runs] = i, rl[runs] = j - i, ro[runs] = offs[i], rp[runs] = step, ++runs;
        i = j;
      }
      T* row = A + (s * g.kw + t) * U * tile;
      for (int64_t u = 0; u < U; ++u, row += tile) {
        const T* ch = img + g.used[u] * plane;
        for (int64_t r = 0; r < runs; ++r) {
          T* o = row + rs[r];
          if (ro[r] < 0) {
            std::fill(o, o + rl[r], T(0));
          } else if (rp[r] == 1) {
            std::memcpy(o, ch + ro[r], rl[r] * sizeof(T));
          } else {
            for (int64_t k = 0; k < rl[r]; ++k) o[k] = ch[ro[r] + k * rp[r]];
          }
        }
      }
    }
  }
}

// Stride-1 "direct" layout: the source is copied once into zero-padded channel
// planes [n][c][Hp * Wp] so that, for a destination pixel q = h * Wp + w of a
// "wide" output (w < Wp, only w < dst_cols kept), every tap reads src[q + offset]:
// each im2col row of a tile is a contiguous slice of a plane, and no im2col copy
// is made at all.
struct Direct {
  int64_t lo_r, lo_c, hp, wp, plane;
  int64_t RowOff(const Gathered& g, int64_t s) const {
    return (g.transposed ? g.pad_top - s * g.dr : s * g.dr - g.pad_top) - lo_r;
  }
  int64_t ColOff(const Gathered& g, int64_t t) const {
    return (g.transposed ? g.pad_left - t * g.dc : t * g.dc - g.pad_left) - lo_c;
  }
};

static Direct MakeDirect(const Gathered& g) {
  Direct r;
  const int64_t er = (g.kh - 1) * g.dr, ec = (g.kw - 1) * g.dc;
  r.lo_r = g.transposed ? g.pad_top - er : -g.pad_top;
  r.lo_c = g.transposed ? g.pad_left - ec : -g.pad_left;
  r.hp = g.dst_rows + er;
  r.wp = g.dst_cols + ec;
  r.plane = r.hp * r.wp;
  return r;
}

// out[j * ldo + i] = in[i * ldi + j] for i, j < 16.
template <typename T>
inline void Transpose16(const T* in, int64_t ldi, T* out, int64_t ldo) {
  for (int j = 0; j < 16; ++j)
    for (int i = 0; i < 16; ++i) out[j * ldo + i] = in[i * ldi + j];
}

// float: four in-register butterfly stages (block sizes 8, 4, 2, 1).
template <>
inline void Transpose16<float>(const float* in, int64_t ldi, float* out, int64_t ldo) {
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t M __attribute__((vector_size(64)));
  V r[16];
  for (int i = 0; i < 16; ++i) r[i] = LoadV<V>(in + i * ldi);
#define TF_PE_STAGE(B, LO, HI)                                       \
  for (int i = 0; i < 16; ++i)                                       \
    if ((i & B) == 0) {                                              \
      const V a = r[i], b = r[i + B];                                \
      r[i] = __builtin_shuffle(a, b, LO);                            \
      r[i + B] = __builtin_shuffle(a, b, HI);                        \
    }
  const M lo8 = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
  const M hi8 = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
  const M lo4 = {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27};
  const M hi4 = {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31};
  const M lo2 = {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29};
  const M hi2 = {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31};
  const M lo1 = {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30};
  const M hi1 = {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31};
  TF_PE_STAGE(8, lo8, hi8)
  TF_PE_STAGE(4, lo4, hi4)
  TF_PE_STAGE(2, lo2, hi2)
  TF_PE_STAGE(1, lo1, hi1)
#undef TF_PE_STAGE
  for (int j = 0; j < 16; ++j) std::memcpy(out + j * ldo, &r[j], sizeof(V));
}

// out[j * ldo + i] = in[i * ldi + j] for i < ni, j < nj, in 16 x 16 blocks.
template <typename T>
inline void TransposeBlock(const T* in, int64_t ldi, int64_t ni, int64_t nj, T* out,
                           int64_t ldo) {
  for (int64_t i0 = 0; i0 < ni; i0 += 16)
    for (int64_t j0 = 0; j0 < nj; j0 += 16) {
      if (i0 + 16 <= ni && j0 + 16 <= nj) {
        Transpose16<T>(in + i0 * ldi + j0, ldi, out + j0 * ldo + i0, ldo);
      } else {
        for (int64_t j = j0; j < std::min<int64_t>(nj, j0 + 16); ++j)
          for (int64_t i = i0; i < std::min<int64_t>(ni, i0 + 16); ++i)
            out[j * ldo + i] = in[i * ldi + j];
      }
    }
}

// dst NHWC [n, H, W, C] <- src [n][C][H][wp] (columns >= W dropped).
template <typename T>
static void UnpadTranspose(const CPUDevice& d, const T* src, int64_t n, int64_t H, int64_t W,
                           int64_t C, int64_t wp, T* dst) {
  ShardTiles(d, n * H, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t img = job / H, h = job % H;
      TransposeBlock(src + (img * C * H + h) * wp, H * wp, C, W, dst + (img * H + h) * W * C, C);
    }
  });
}

// src NHWC [n, H, W, C] -> dst [n][C][Hp][Wp] with src (r, w) at (r + top, w + left),
// zeros elsewhere, followed by `slack` zeros.
// One image: src [H, W, C] -> padded rows [pr_begin, pr_end) of dst [C][hp][wp].
template <typename T>
static void PadTransposeRows(const T* src, int64_t H, int64_t W, int64_t C, int64_t top,
                             int64_t left, int64_t hp, int64_t wp, int64_t pr_begin,
                             int64_t pr_end, T* dst) {
  const int64_t plane = hp * wp;
  const int64_t w_begin = std::max<int64_t>(0, -left), w_end = std::min<int64_t>(W, wp - left);
  for (int64_t pr = pr_begin; pr < pr_end; ++pr) {
    const int64_t r = pr - top;
    T* rows = dst + pr * wp;
    if (r < 0 || r >= H || w_end <= w_begin) {
      for (int64_t c = 0; c < C; ++c) std::fill(rows + c * plane, rows + c * plane + wp, T(0));
      continue;
    }
    for (int64_t c = 0; c < C; ++c) {
      T* row = rows + c * plane;
      std::fill(row, row + std::max<int64_t>(0, w_begin + left), T(0));
      std::fill(row + w_end + left, row + wp, T(0));
    }
    TransposeBlock(src + (r * W + w_begin) * C, C, w_end - w_begin, C, rows + left + w_begin,
                   plane);
  }
}

// src NHWC [n, H, W, C] -> dst [n][C][Hp][Wp] with src (r, w) at (r + top, w + left),
// zeros elsewhere, followed by `slack` zeros.
template <typename T>
static void PadTranspose(const CPUDevice& d, const T* src, int64_t n, int64_t H, int64_t W,
                         int64_t C, int64_t top, int64_t left, int64_t hp, int64_t wp,
                         int64_t slack, T* dst) {
  const int64_t plane = hp * wp;
  std::fill(dst + n * C * plane, dst + n * C * plane + slack, T(0));
  ShardTiles(d, n * hp, [&](int64_t begin, int64_t end) {
    for (int64_t job = begin; job < end; ++job) {
      const int64_t img = job / hp, pr = job % hp;
      PadTransposeRows(src + img * H * W * C, H, W, C, top, left, hp, wp, pr, pr + 1,
                       dst + img * C * plane);
    }
  });
}

// Elements of the two scratch buffers RunGathered needs (source copy, output copy).
static void ScratchSizes(const Gathered& g, int64_t* src, int64_t* dst) {
  if (g.sr == 1 && g.sc == 1) {
    const Direct dl = MakeDirect(g);
    *src = g.batch * g.src_depth * dl.plane + kTile + dl.wp;
    *dst = std::max<int64_t>(1, g.batch * g.dst_depth * g.dst_rows * dl.wp);
  } else {
    *src = g.batch * g.src_rows * g.src_cols * g.src_depth;
    *dst = std::max<int64_t>(1, g.batch * g.dst_rows * g.dst_cols * g.dst_depth);
  }
}

// dst[pixel, channel] = gathered convolution (forward or input gradient), NHWC in
// and out; internally channel-major so that im2col rows and outputs are contiguous.
template <typename T>
static void RunGathered(const CPUDevice& d, const Gathered& g, const T* kernel, const T* src,
                        T* dst, T* src_c, T* dst_c) {
  const int64_t plane = g.dst_rows * g.dst_cols;
  const int64_t total = g.batch * plane * g.dst_depth;
  if (total == 0) return;
  if (g.groups.empty()) {
    std::fill(dst, dst + total, T(0));
    return;
  }
  // Packed weights, one block per group: [|dst|][K].
  std::vector<std::vector<T>> weights(g.groups.size());
  for (size_t i = 0; i < g.groups.size(); ++i) {
    const auto& pos = g.groups[i].wpos;
    weights[i].resize(pos.size());
    for (size_t k = 0; k < pos.size(); ++k) weights[i][k] = kernel[pos[k]];
  }
  if (g.sr == 1 && g.sc == 1 && g.batch >= d.numThreads()) {
    // Image by image, so that the padded copy and the wide output stay in cache.
    const Direct dl = MakeDirect(g);
    const int64_t wide = g.dst_rows * dl.wp;
    const int64_t U = g.used.size();
    std::vector<std::vector<int64_t>> offs(g.groups.size());
    for (size_t gi = 0; gi < g.groups.size(); ++gi)
      for (int32_t row : g.groups[gi].rows) {
        const int64_t tap = row / U, u = row % U;
        offs[gi].push_back(g.used[u] * dl.plane + dl.RowOff(g, tap / g.kw) * dl.wp +
                           dl.ColOff(g, tap % g.kw));
      }
    const int64_t src_size = g.src_depth * dl.plane, slack = kTile + dl.wp;
    const int64_t per_image = (wide + kTile - 1) / kTile;
    ShardTiles(d, g.batch, [&](int64_t begin, int64_t end) {
      T* out = Scratch<T>(1, kMaxMR * kTile);
      T* padded = Scratch<T>(4, src_size + slack);
      T* wide_out = Scratch<T>(5, g.dst_depth * wide);
      std::fill(padded + src_size, padded + src_size + slack, T(0));
      for (int64_t n = begin; n < end; ++n) {
        PadTransposeRows(src + n * g.src_rows * g.src_cols * g.src_depth, g.src_rows,
                         g.src_cols, g.src_depth, -dl.lo_r, -dl.lo_c, dl.hp, dl.wp, 0, dl.hp,
                         padded);
        if (!g.covers_dst) std::fill(wide_out, wide_out + g.dst_depth * wide, T(0));
        for (int64_t tile = 0; tile < per_image; ++tile) {
          const int64_t q0 = tile * kTile, count = std::min<int64_t>(kTile, wide - q0);
          for (size_t gi = 0; gi < g.groups.size(); ++gi) {
            const auto& grp = g.groups[gi];
            const int64_t K = grp.rows.size(), m = grp.dst.size();
            for (int64_t j0 = 0; j0 < m; j0 += kMaxMR) {
              const int mr = static_cast<int>(std::min<int64_t>(kMaxMR, m - j0));
              MicroKernelN<T>(mr, padded + q0, offs[gi].data(), K,
                              weights[gi].data() + j0 * K, out);
              for (int j = 0; j < mr; ++j)
                std::memcpy(wide_out + grp.dst[j0 + j] * wide + q0, out + j * kTile,
                            count * sizeof(T));
            }
          }
        }
        T* o = dst + n * plane * g.dst_depth;
        for (int64_t h = 0; h < g.dst_rows; ++h)
          TransposeBlock(wide_out + h * dl.wp, wide, g.dst_depth, g.dst_cols,
                         o + h * g.dst_cols * g.dst_depth, g.dst_depth);
      }
    });
    return;
  }
  if (g.sr == 1 && g.sc == 1) {
    const Direct dl = MakeDirect(g);
    T* src_p = src_c;  // caller sized it with DirectSize()
    PadTranspose(d, src, g.batch, g.src_rows, g.src_cols, g.src_depth, -dl.lo_r, -dl.lo_c,
                 dl.hp, dl.wp, kTile + dl.wp, src_p);
    const int64_t wide = g.dst_rows * dl.wp;
    if (!g.covers_dst) std::fill(dst_c, dst_c + g.batch * g.dst_depth * wide, T(0));
    std::vector<std::vector<int64_t>> offs(g.groups.size());
    const int64_t U = g.used.size();
    for (size_t gi = 0; gi < g.groups.size(); ++gi)
      for (int32_t row : g.groups[gi].rows) {
        const int64_t tap = row / U, u = row % U;
        offs[gi].push_back(g.used[u] * dl.plane + dl.RowOff(g, tap / g.kw) * dl.wp +
                           dl.ColOff(g, tap % g.kw));
      }
    const int64_t per_image = (wide + kTile - 1) / kTile;
    ShardTiles(d, g.batch * per_image, [&](int64_t begin, int64_t end) {
      T* out = Scratch<T>(1, kMaxMR * kTile);
      for (int64_t tile = begin; tile < end; ++tile) {
        const int64_t n = tile / per_image, q0 = (tile % per_image) * kTile;
        const int64_t count = std::min<int64_t>(kTile, wide - q0);
        const T* base = src_p + n * g.src_depth * dl.plane + q0;
        for (size_t gi = 0; gi < g.groups.size(); ++gi) {
          const auto& grp = g.groups[gi];
          const int64_t K = grp.rows.size(), m = grp.dst.size();
          for (int64_t j0 = 0; j0 < m; j0 += kMaxMR) {
            const int mr = static_cast<int>(std::min<int64_t>(kMaxMR, m - j0));
            MicroKernelN<T>(mr, base, offs[gi].data(), K, weights[gi].data() + j0 * K, out);
            for (int j = 0; j < mr; ++j)
              std::memcpy(dst_c + (n * g.dst_depth + grp.dst[j0 + j]) * wide + q0,
                          out + j * kTile, count * sizeof(T));
          }
        }
      }
    });
    UnpadTranspose(d, dst_c, g.batch, g.dst_rows, g.dst_cols, g.dst_depth, dl.wp, dst);
    return;
  }
  const int64_t src_plane = g.src_rows * g.src_cols;
  Transpose12(d, src, g.batch, src_plane, g.src_depth, src_c);
  if (!g.covers_dst) std::fill(dst_c, dst_c + total, T(0));
  const int64_t rows = g.kh * g.kw * g.used.size();
  const int64_t per_image = (plane + kTile - 1) / kTile;
  ShardTiles(d, g.batch * per_image, [&](int64_t begin, int64_t end) {
    T* A = Scratch<T>(0, rows * kTile);
    T* out = Scratch<T>(1, kMaxMR * kTile);
    std::vector<std::vector<int64_t>> offs(g.groups.size());
    for (size_t gi = 0; gi < g.groups.size(); ++gi)
      for (int32_t row : g.groups[gi].rows) offs[gi].push_back(int64_t{row} * kTile);
    int64_t* scratch = Scratch<int64_t>(0, 7 * kTile);
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t n = tile / per_image, q0 = (tile % per_image) * kTile;
      const int64_t count = std::min<int64_t>(kTile, plane - q0);
      Im2Col(g, src_c, n, q0, count, kTile, A, scratch);
      for (size_t gi = 0; gi < g.groups.size(); ++gi) {
        const auto& grp = g.groups[gi];
        const int64_t K = grp.rows.size(), m = grp.dst.size();
        for (int64_t j0 = 0; j0 < m; j0 += kMaxMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMaxMR, m - j0));
          MicroKernelN<T>(mr, A, offs[gi].data(), K, weights[gi].data() + j0 * K, out);
          for (int j = 0; j < mr; ++j)
            std::memcpy(dst_c + (n * g.dst_depth + grp.dst[j0 + j]) * plane + q0,
                        out + j * kTile, count * sizeof(T));
        }
      }
    }
  });
  Transpose12(d, dst_c, g.batch, g.dst_depth, plane, dst);
}

// Which kernel family runs a plan. The NHWC kernels (vectorized over destination
// channels, sparse_channel_conv2d_nhwc.h) need no transposes of the activations but
// waste the lanes past each group's width and, one vector wide, are load-bound; the
// channel-plane kernels above (vectorized over pixels) pay two transposes. Measured
// per call of each op on WRN-28-2 / ResNet-50 shapes (docs/benchmarks.md): the NHWC
// kernel gradient won from lane use 0.19 up; the NHWC forward / input gradient won
// for 1x1 kernels from lane use ~0.4, for strided layers (where the plane kernels
// gather an im2col) from 0.8, and for larger stride-1 kernels only with groups
// wider than one vector (a block of 16 outputs: 0.84x of the plane kernel; 26: faster).
// The environment variable TF_PE_CPU_KERNEL = "nhwc" or "planes" forces one family
// (tests run both); anything else (default) applies these rules.
static bool UseNhwc(const Gathered& g, int bytes, bool kernel_grad) {
  const char* force = std::getenv("TF_PE_CPU_KERNEL");
  if (force != nullptr && std::string(force) == "nhwc") return true;
  if (force != nullptr && std::string(force) == "planes") return false;
  const double lanes = NhwcLaneUse(g, bytes);
  if (kernel_grad) return lanes >= 0.15;
  if (g.kh * g.kw == 1 || g.sr > 1 || g.sc > 1) return lanes >= 0.3;
  int64_t width = 0;
  for (const auto& grp : g.groups) width += grp.dst.size();
  const int64_t vector = 64 / bytes;
  return lanes >= 0.5 && 4 * width >= 5 * vector * static_cast<int64_t>(g.groups.size());
}

// The gathered convolution (forward or input gradient) by the faster kernel family.
template <typename T>
static void Run(const CPUDevice& d, const Gathered& g, const T* kernel, const T* src, T* dst) {
  if (UseNhwc(g, sizeof(T), false)) return NhwcConv<T>(d, g, kernel, src, dst);
  int64_t src_size, dst_size;
  ScratchSizes(g, &src_size, &dst_size);
  RunGathered<T>(d, g, kernel, src, dst, Scratch<T>(2, src_size), Scratch<T>(3, dst_size));
}

// ---------------------------------------------------------------- validation

struct Parsed {
  ConvGeometry geo;
  // CSR rows as (input channel, kernel position) lists, per output channel.
  std::vector<std::vector<std::pair<int32_t, int64_t>>> rows;
};

// The forward plan of a validated structure (forward op, kernel gradient).
static Gathered ForwardPlan(const Parsed& p) {
  const ConvGeometry& g = p.geo;
  Gathered r{g.batch, g.in_rows, g.in_cols, g.in_depth, g.out_rows, g.out_cols, g.out_depth,
             g.filter_rows, g.filter_cols, g.stride_rows, g.stride_cols, g.dilation_rows,
             g.dilation_cols, g.pad_top, g.pad_left, false, {}, {}, false};
  BuildGroups(p.rows, g.in_depth, g.filter_rows, g.filter_cols, g.nnz, &r);
  return r;
}

// The transposed plan (input gradient): per input channel, its (output channel,
// position) list.
static Gathered TransposedPlan(const Parsed& p) {
  const ConvGeometry& g = p.geo;
  std::vector<std::vector<std::pair<int32_t, int64_t>>> cols(g.in_depth);
  for (int64_t j = 0; j < g.out_depth; ++j)
    for (const auto& e : p.rows[j]) cols[e.first].emplace_back(static_cast<int32_t>(j), e.second);
  Gathered r{g.batch, g.out_rows, g.out_cols, g.out_depth, g.in_rows, g.in_cols, g.in_depth,
             g.filter_rows, g.filter_cols, g.stride_rows, g.stride_cols, g.dilation_rows,
             g.dilation_cols, g.pad_top, g.pad_left, true, {}, {}, false};
  BuildGroups(cols, g.out_depth, g.filter_rows, g.filter_cols, g.nnz, &r);
  return r;
}

class ConvBase : public OpKernel {
 public:
  explicit ConvBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("strides", &strides_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("dilations", &dilations_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("padding", &padding_));
    OP_REQUIRES(ctx, strides_.size() == 2 && dilations_.size() == 2,
                errors::InvalidArgument("strides and dilations must have 2 elements"));
    for (int i = 0; i < 2; ++i) {
      OP_REQUIRES(ctx, strides_[i] >= 1 && dilations_[i] >= 1,
                  errors::InvalidArgument("strides and dilations must be >= 1"));
    }
  }

 protected:
  // Validates shapes and the connection structure; fills `p`.
  absl::Status Parse(const TensorShape& input, const TensorShape& kernel, const Tensor& indptr,
                     const Tensor& indices, Parsed* p) {
    if (input.dims() != 4) return errors::InvalidArgument("input must be 4-D NHWC, got ",
                                                          input.DebugString());
    if (kernel.dims() != 3) return errors::InvalidArgument("kernel must be 3-D [kh, kw, nnz], got ",
                                                           kernel.DebugString());
    if (indptr.dims() != 1 || indptr.NumElements() < 1)
      return errors::InvalidArgument("indptr must be 1-D with at least one element");
    if (indices.dims() != 1) return errors::InvalidArgument("indices must be 1-D");
    ConvGeometry& g = p->geo;
    g.batch = input.dim_size(0);
    g.in_rows = input.dim_size(1);
    g.in_cols = input.dim_size(2);
    g.in_depth = input.dim_size(3);
    g.filter_rows = kernel.dim_size(0);
    g.filter_cols = kernel.dim_size(1);
    g.nnz = kernel.dim_size(2);
    g.out_depth = indptr.NumElements() - 1;
    if (g.filter_rows < 1 || g.filter_cols < 1)
      return errors::InvalidArgument("kernel spatial size must be >= 1, got ", kernel.DebugString());
    if (indices.NumElements() != g.nnz)
      return errors::InvalidArgument("indices has ", indices.NumElements(),
                                     " elements but kernel has nnz = ", g.nnz);
    g.stride_rows = strides_[0];
    g.stride_cols = strides_[1];
    g.dilation_rows = dilations_[0];
    g.dilation_cols = dilations_[1];
    TF_RETURN_IF_ERROR(OutputSize(g.in_rows, g.filter_rows, g.stride_rows, g.dilation_rows,
                                  padding_, &g.out_rows, &g.pad_top));
    TF_RETURN_IF_ERROR(OutputSize(g.in_cols, g.filter_cols, g.stride_cols, g.dilation_cols,
                                  padding_, &g.out_cols, &g.pad_left));
    auto ptr = indptr.flat<int32_t>();
    auto idx = indices.flat<int32_t>();
    if (ptr(0) != 0) return errors::InvalidArgument("indptr[0] must be 0, got ", ptr(0));
    if (ptr(g.out_depth) != g.nnz)
      return errors::InvalidArgument("indptr[-1] must equal nnz = ", g.nnz, ", got ",
                                     ptr(g.out_depth));
    p->rows.assign(g.out_depth, {});
    for (int64_t j = 0; j < g.out_depth; ++j) {
      if (ptr(j + 1) < ptr(j) || ptr(j + 1) > g.nnz)
        return errors::InvalidArgument("indptr must be non-decreasing and <= nnz; at ", j + 1);
      for (int64_t q = ptr(j); q < ptr(j + 1); ++q) {
        const int32_t c = idx(q);
        if (c < 0 || c >= g.in_depth)
          return errors::InvalidArgument("indices[", q, "] = ", c, " is out of range [0, ",
                                         g.in_depth, ")");
        if (q > ptr(j) && c <= idx(q - 1))
          return errors::InvalidArgument("indices must be strictly increasing within each "
                                         "output channel; at position ", q);
        p->rows[j].emplace_back(c, q);
      }
    }
    return absl::OkStatus();
  }

  // A validated structure's geometry and the plan of one direction: the forward
  // plan (forward op, kernel gradient) or the transposed one (input gradient).
  struct Planned {
    ConvGeometry geo;
    Gathered plan;
  };

  // The Planned of these arguments: the last call's when the shapes and the
  // structure (indptr, indices) are the same (a layer passes the same structure
  // every step, and validating and grouping it is O(nnz log nnz) work on one
  // thread, which stood out in profiles of the 256-512-channel layers), else
  // parsed, validated and planned now, and kept for the next call.
  absl::Status Plan(const TensorShape& input, const TensorShape& kernel, const Tensor& indptr,
                    const Tensor& indices, bool transposed,
                    std::shared_ptr<const Planned>* out) {
    std::vector<int64_t> shapes;
    for (const TensorShape* shape : {&input, &kernel}) {
      shapes.push_back(shape->dims());
      for (int i = 0; i < shape->dims(); ++i) shapes.push_back(shape->dim_size(i));
    }
    shapes.push_back(indptr.dims() == 1 ? indptr.NumElements() : -1);
    shapes.push_back(indices.dims() == 1 ? indices.NumElements() : -1);
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      if (cached_ != nullptr && shapes == cached_shapes_ &&
          SameContents(indptr, cached_indptr_) && SameContents(indices, cached_indices_)) {
        *out = cached_;
        return absl::OkStatus();
      }
    }
    Parsed p;
    TF_RETURN_IF_ERROR(Parse(input, kernel, indptr, indices, &p));
    auto planned = std::make_shared<Planned>();
    planned->geo = p.geo;
    planned->plan = transposed ? TransposedPlan(p) : ForwardPlan(p);
    std::lock_guard<std::mutex> lock(cache_mu_);
    cached_shapes_ = std::move(shapes);
    auto ptr = indptr.flat<int32_t>();
    auto idx = indices.flat<int32_t>();
    cached_indptr_.assign(ptr.data(), ptr.data() + ptr.size());
    cached_indices_.assign(idx.data(), idx.data() + idx.size());
    cached_ = planned;
    *out = std::move(planned);
    return absl::OkStatus();
  }

  static bool SameContents(const Tensor& t, const std::vector<int32_t>& v) {
    return t.NumElements() == static_cast<int64_t>(v.size()) &&
           (v.empty() || std::memcmp(t.flat<int32_t>().data(), v.data(),
                                     v.size() * sizeof(int32_t)) == 0);
  }

  std::vector<int32_t> strides_, dilations_;
  std::string padding_;

 private:
  std::mutex cache_mu_;
  std::vector<int64_t> cached_shapes_;
  std::vector<int32_t> cached_indptr_, cached_indices_;
  std::shared_ptr<const Planned> cached_;
};

static absl::Status ShapeFromTensor(const Tensor& t, int rank, TensorShape* shape) {
  if (t.dims() != 1 || t.NumElements() != rank)
    return errors::InvalidArgument("shape tensor must be 1-D with ", rank, " elements");
  auto v = t.flat<int32_t>();
  for (int i = 0; i < rank; ++i) {
    if (v(i) < 0) return errors::InvalidArgument("negative dimension in shape tensor");
    TF_RETURN_IF_ERROR(shape->AddDimWithStatus(v(i)));
  }
  return absl::OkStatus();
}

// The CPU functor (used by the op below and available to other C++ callers).
template <typename T>
struct SparseChannelConv2DFunctor<CPUDevice, T> {
  void operator()(const CPUDevice& d, const ConvGeometry& g, const T* input, const T* kernel,
                  const int32_t* indptr, const int32_t* indices, T* output);
};

template <typename T>
void SparseChannelConv2DFunctor<CPUDevice, T>::operator()(
    const CPUDevice& d, const ConvGeometry& g, const T* input, const T* kernel,
    const int32_t* indptr, const int32_t* indices, T* output) {
  Parsed p{g, std::vector<std::vector<std::pair<int32_t, int64_t>>>(g.out_depth)};
  for (int64_t j = 0; j < g.out_depth; ++j)
    for (int64_t q = indptr[j]; q < indptr[j + 1]; ++q) p.rows[j].emplace_back(indices[q], q);
  Run<T>(d, ForwardPlan(p), kernel, input, output);
}

template <typename T>
class SparseChannelConv2DOp : public ConvBase {
 public:
  using ConvBase::ConvBase;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& input = ctx->input(0);
    const Tensor& kernel = ctx->input(1);
    std::shared_ptr<const Planned> planned;
    OP_REQUIRES_OK(ctx, Plan(input.shape(), kernel.shape(), ctx->input(2), ctx->input(3),
                             /*transposed=*/false, &planned));
    const ConvGeometry& g = planned->geo;
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            0, TensorShape({g.batch, g.out_rows, g.out_cols, g.out_depth}), &out));
    if (out->NumElements() == 0) return;
    Run<T>(ctx->eigen_device<CPUDevice>(), planned->plan, kernel.flat<T>().data(),
           input.flat<T>().data(), out->flat<T>().data());
  }
};

template <typename T>
class BackpropInputOp : public ConvBase {
 public:
  using ConvBase::ConvBase;
  void Compute(OpKernelContext* ctx) override {
    TensorShape input_shape;
    OP_REQUIRES_OK(ctx, ShapeFromTensor(ctx->input(0), 4, &input_shape));
    const Tensor& kernel = ctx->input(1);
    const Tensor& dy = ctx->input(4);
    std::shared_ptr<const Planned> planned;
    OP_REQUIRES_OK(ctx, Plan(input_shape, kernel.shape(), ctx->input(2), ctx->input(3),
                             /*transposed=*/true, &planned));
    const ConvGeometry& g = planned->geo;
    const TensorShape want({g.batch, g.out_rows, g.out_cols, g.out_depth});
    OP_REQUIRES(ctx, dy.shape() == want,
                errors::InvalidArgument("out_backprop has shape ", dy.shape().DebugString(),
                                        ", expected ", want.DebugString()));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, input_shape, &dx));
    if (dx->NumElements() == 0) return;
    if (dy.NumElements() == 0) {  // no output pixels: no contributions
      std::fill(dx->flat<T>().data(), dx->flat<T>().data() + dx->NumElements(), T(0));
      return;
    }
    Run<T>(ctx->eigen_device<CPUDevice>(), planned->plan, kernel.flat<T>().data(),
           dy.flat<T>().data(), dx->flat<T>().data());
  }
};

template <typename T>
class BackpropKernelOp : public ConvBase {
 public:
  using ConvBase::ConvBase;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& input = ctx->input(0);
    TensorShape kernel_shape;
    OP_REQUIRES_OK(ctx, ShapeFromTensor(ctx->input(1), 3, &kernel_shape));
    const Tensor& dy = ctx->input(4);
    std::shared_ptr<const Planned> planned;
    OP_REQUIRES_OK(ctx, Plan(input.shape(), kernel_shape, ctx->input(2), ctx->input(3),
                             /*transposed=*/false, &planned));
    const ConvGeometry& g = planned->geo;
    const TensorShape want({g.batch, g.out_rows, g.out_cols, g.out_depth});
    OP_REQUIRES(ctx, dy.shape() == want,
                errors::InvalidArgument("out_backprop has shape ", dy.shape().DebugString(),
                                        ", expected ", want.DebugString()));
    Tensor* dk = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, kernel_shape, &dk));
    T* grad = dk->flat<T>().data();
    const int64_t total = dk->NumElements();
    std::fill(grad, grad + total, T(0));
    const int64_t pixels = g.batch * g.out_rows * g.out_cols;
    if (total == 0 || pixels == 0) return;
    const Gathered& plan = planned->plan;
    const CPUDevice& d = ctx->eigen_device<CPUDevice>();
    if (UseNhwc(plan, sizeof(T), true)) {
      NhwcKernelGrad<T>(d, plan, input.flat<T>().data(), dy.flat<T>().data(), grad);
      return;
    }
    const bool direct = g.stride_rows == 1 && g.stride_cols == 1;
    // Source x: padded planes (direct) or plain NCHW (im2col); dy: channel planes
    // of width `wide_cols` (zeros in the extra columns) plus one zero tile of slack.
    const Direct dl = MakeDirect(plan);
    const int64_t wide_cols = direct ? dl.wp : g.out_cols;
    const int64_t plane = g.out_rows * wide_cols;
    const int64_t x_size = direct ? g.batch * g.in_depth * dl.plane + kGradTile + dl.wp
                                  : input.NumElements();
    const int64_t y_size = g.batch * g.out_depth * plane + kGradTile;
    T* x = Scratch<T>(2, x_size);
    T* y = Scratch<T>(3, y_size);
    if (direct) {
      PadTranspose(d, input.flat<T>().data(), g.batch, g.in_rows, g.in_cols, g.in_depth,
                   -dl.lo_r, -dl.lo_c, dl.hp, dl.wp, kGradTile + dl.wp, x);
    } else {
      Transpose12(d, input.flat<T>().data(), g.batch, g.in_rows * g.in_cols, g.in_depth, x);
    }
    PadTranspose(d, dy.flat<T>().data(), g.batch, g.out_rows, g.out_cols, g.out_depth, 0, 0,
                 g.out_rows, wide_cols, kGradTile, y);
    const int64_t U = plan.used.size();
    const int64_t rows = g.filter_rows * g.filter_cols * U;
    std::vector<std::vector<int64_t>> offs(plan.groups.size());
    for (size_t gi = 0; gi < plan.groups.size(); ++gi)
      for (int32_t row : plan.groups[gi].rows) {
        const int64_t tap = row / U, u = row % U;
        offs[gi].push_back(direct ? plan.used[u] * dl.plane +
                                        dl.RowOff(plan, tap / g.filter_cols) * dl.wp +
                                        dl.ColOff(plan, tap % g.filter_cols)
                                  : int64_t{row} * kGradTile);
      }
    const int64_t per_image = (plane + kGradTile - 1) / kGradTile;
    std::mutex mu;
    ShardTiles(d, g.batch * per_image, [&](int64_t begin, int64_t end) {
          T* A = direct ? nullptr : Scratch<T>(0, rows * kGradTile);
          T* Dbuf = Scratch<T>(1, kMaxMR * kGradTile);
          std::vector<T> local(total, T(0));
          int64_t* scratch = Scratch<int64_t>(0, 7 * kGradTile);
          const T* D[kMaxMR];
          for (int64_t tile = begin; tile < end; ++tile) {
            const int64_t n = tile / per_image, q0 = (tile % per_image) * kGradTile;
            const int64_t count = std::min<int64_t>(kGradTile, plane - q0);
            const T* base;
            if (direct) {
              base = x + n * g.in_depth * dl.plane + q0;
            } else {
              Im2Col(plan, x, n, q0, count, kGradTile, A, scratch);
              base = A;
            }
            for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
              const auto& grp = plan.groups[gi];
              const int64_t K = grp.rows.size(), m = grp.dst.size();
              for (int64_t j0 = 0; j0 < m; j0 += kMaxMR) {
                const int mr = static_cast<int>(std::min<int64_t>(kMaxMR, m - j0));
                for (int j = 0; j < mr; ++j) {
                  const T* yj = y + (n * g.out_depth + grp.dst[j0 + j]) * plane + q0;
                  if (count == kGradTile) {
                    D[j] = yj;
                  } else {  // the tail: zeros past the image
                    T* dj = Dbuf + j * kGradTile;
                    std::memcpy(dj, yj, count * sizeof(T));
                    std::fill(dj + count, dj + kGradTile, T(0));
                    D[j] = dj;
                  }
                }
                GradKernelN<T>(mr, base, offs[gi].data(), K, D, grp.wpos.data() + j0 * K,
                               local.data());
              }
            }
          }
          std::lock_guard<std::mutex> lock(mu);
          for (int64_t i = 0; i < total; ++i) grad[i] += local[i];
        });
  }
};

#define TF_PE_REGISTER(T)                                                                  \
  template struct SparseChannelConv2DFunctor<CPUDevice, T>;                               \
  REGISTER_KERNEL_BUILDER(                                                                \
      Name("TfPe>SparseChannelConv2D").Device(DEVICE_CPU).TypeConstraint<T>("T"),          \
      SparseChannelConv2DOp<T>);                                                          \
  REGISTER_KERNEL_BUILDER(Name("TfPe>SparseChannelConv2DBackpropInput")                   \
                              .Device(DEVICE_CPU)                                         \
                              .TypeConstraint<T>("T"),                                    \
                          BackpropInputOp<T>);                                            \
  REGISTER_KERNEL_BUILDER(Name("TfPe>SparseChannelConv2DBackpropKernel")                  \
                              .Device(DEVICE_CPU)                                         \
                              .TypeConstraint<T>("T"),                                    \
                          BackpropKernelOp<T>);

TF_PE_REGISTER(float)
TF_PE_REGISTER(double)

}  // namespace tf_pe
