// TfPe>GatherChannels and TfPe>ScatterAddChannels: CPU kernels only. There is no GPU
// kernel: where a GPU is visible the ops still run on the CPU (soft placement).
//
// GatherChannels picks channels along the last axis:
//   output[..., m] = params[..., index[m]]  (index[m] >= 0),  0  (index[m] == -1).
// ScatterAddChannels is its gradient:
//   output[..., d] = sum over m with index[m] == d of updates[..., m]  (zero elsewhere).
//
// Both flatten the leading axes into rows ([P, D] / [P, M]) and shard the rows (cut
// into chunks of kChunk channels when long) over the intra-op pool; each row is a
// tight loop over m. The index is preprocessed once per call. Gather, fastest first:
// with AVX-512, float / double rows of up to 16 vectors (256 floats, 128 doubles)
// are loaded into registers and permuted (vpermps / vpermt2ps and blends per 16 or
// 8 outputs); otherwise runs of consecutive channels (index[m+1] == index[m] + 1, or
// of -1) are copied with memcpy / filled when they are long on average; otherwise
// an element loop into an L1 buffer. A scatter whose index has no duplicates is a
// gather with the inverse index (plain stores, no accumulation); only a scatter
// with duplicates accumulates, per row in a buffer of float for half and bfloat16,
// of T otherwise.
#define EIGEN_USE_THREADS

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "sparse_channel_conv2d_plan.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace tf_pe {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::TensorShapeUtils;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;
namespace errors = ::tensorflow::errors;

// ---------------------------------------------------------------- registration

// `s` with its last dimension replaced by `last` (unknown rank stays unknown).
absl::Status WithLastDim(InferenceContext* c, ShapeHandle s, DimensionHandle last,
                         ShapeHandle* out) {
  if (!c->RankKnown(s)) {
    *out = c->UnknownShape();
    return absl::OkStatus();
  }
  ShapeHandle lead;
  TF_RETURN_IF_ERROR(c->Subshape(s, 0, -1, &lead));
  return c->Concatenate(lead, c->MakeShape({last}), out);
}

REGISTER_OP("TfPe>GatherChannels")
    .Input("params: T")
    .Input("index: int32")
    .Output("output: T")
    .Attr("T: {float, double, half, bfloat16}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle params, index, out;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(0), 1, &params));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &index));
      TF_RETURN_IF_ERROR(WithLastDim(c, params, c->Dim(index, 0), &out));
      c->set_output(0, out);
      return absl::OkStatus();
    })
    .Doc(R"doc(
Gathers channels along the last axis: output[..., m] = params[..., index[m]], or 0
where index[m] == -1. index values must lie in [-1, D), D = params.shape[-1].
)doc");

REGISTER_OP("TfPe>ScatterAddChannels")
    .Input("updates: T")
    .Input("index: int32")
    .Input("depth: int32")
    .Output("output: T")
    .Attr("T: {float, double, half, bfloat16}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle updates, index, depth_shape, out;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(0), 1, &updates));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &index));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 0, &depth_shape));
      if (c->RankKnown(updates)) {
        DimensionHandle m;
        TF_RETURN_IF_ERROR(c->Merge(c->Dim(updates, -1), c->Dim(index, 0), &m));
      }
      DimensionHandle depth;
      TF_RETURN_IF_ERROR(c->MakeDimForScalarInput(2, &depth));  // unknown unless constant
      TF_RETURN_IF_ERROR(WithLastDim(c, updates, depth, &out));
      c->set_output(0, out);
      return absl::OkStatus();
    })
    .Doc(R"doc(
The gradient of GatherChannels: output has the shape of updates with the last axis
of size depth, zero except output[..., index[m]] += updates[..., m] for index[m] >= 0
(duplicate index values add up). index values must lie in [-1, depth).
)doc");

// ---------------------------------------------------------------- kernels

// Columns per work unit: rows longer than this are cut, so that a few long rows
// (e.g. rank-1 params) still spread over the pool.
constexpr int64_t kChunk = 2048;
// Average run length from which runs are copied with memcpy / filled with zeros.
constexpr int64_t kMinRun = 8;

// A run of output channels [dst, dst + len) read from [src, src + len), or zeros
// when src < 0. Runs never cross a chunk boundary.
struct Run {
  int64_t dst, src, len;
};

struct Plan {
  int64_t in_depth = 0, out_depth = 0;  // D and M of the gather
  const int32_t* index = nullptr;       // [out_depth], values in [-1, in_depth)
  bool missing = false;                 // some index[m] == -1
  bool use_runs = false;
  std::vector<Run> runs;
  std::vector<int64_t> chunk_runs;  // runs of chunk c: [chunk_runs[c], chunk_runs[c + 1])
};

Plan MakePlan(const int32_t* index, int64_t in_depth, int64_t out_depth) {
  Plan p;
  p.in_depth = in_depth;
  p.out_depth = out_depth;
  p.index = index;
  const int64_t chunks = (out_depth + kChunk - 1) / kChunk;
  p.chunk_runs.push_back(0);
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = std::min(out_depth, (c + 1) * kChunk);
    for (int64_t m = c * kChunk; m < end;) {
      const int64_t src = index[m] < 0 ? -1 : index[m];
      int64_t j = m + 1;
      if (src < 0) {
        p.missing = true;
        while (j < end && index[j] < 0) ++j;
      } else {
        while (j < end && index[j] == src + (j - m)) ++j;
      }
      p.runs.push_back({m, src, j - m});
      m = j;
    }
    p.chunk_runs.push_back(static_cast<int64_t>(p.runs.size()));
  }
  p.use_runs = static_cast<int64_t>(p.runs.size()) * kMinRun <= out_depth;
  return p;
}

#if defined(__AVX512F__)
// Rows of at most kMaxVectors 512-bit vectors are permuted in registers: the element
// loop (below) is compute-bound, at about 1.4x the time of `x * 2` for float
// [100352, 64] on a 2-core Xeon, where this path matches `x * 2`. No gather
// instructions: they are slow where the GDS microcode mitigation is on.
template <typename T>
struct Zmm {
  static constexpr bool kEnabled = false;
};

template <>
struct Zmm<float> {
  static constexpr bool kEnabled = true;
  static constexpr int64_t kLanes = 16;
  typedef __m512 V;
  typedef __mmask16 K;
  static __m512i Index(const int32_t* lanes) { return _mm512_loadu_si512(lanes); }
  static K Lanes(int64_t n) { return n >= 16 ? K(0xFFFF) : K((1u << n) - 1); }
  static K NonNegative(__m512i i) { return _mm512_cmpge_epi32_mask(i, _mm512_setzero_si512()); }
  static K Bit(__m512i i, int b) { return _mm512_test_epi32_mask(i, _mm512_set1_epi32(b)); }
  static V Load(K k, const float* p) { return _mm512_maskz_loadu_ps(k, p); }
  static void Store(float* p, K k, V v) { _mm512_mask_storeu_ps(p, k, v); }
  static V Permute(__m512i i, V a) { return _mm512_permutexvar_ps(i, a); }
  static V Permute2(V a, __m512i i, V b) { return _mm512_permutex2var_ps(a, i, b); }
  static V Blend(K k, V a, V b) { return _mm512_mask_blend_ps(k, a, b); }
  static V Keep(K k, V v) { return _mm512_maskz_mov_ps(k, v); }
};

template <>
struct Zmm<double> {
  static constexpr bool kEnabled = true;
  static constexpr int64_t kLanes = 8;
  typedef __m512d V;
  typedef __mmask8 K;
  static __m512i Index(const int32_t* lanes) {
    return _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes)));
  }
  static K Lanes(int64_t n) { return n >= 8 ? K(0xFF) : K((1u << n) - 1); }
  static K NonNegative(__m512i i) { return _mm512_cmpge_epi64_mask(i, _mm512_setzero_si512()); }
  static K Bit(__m512i i, int b) { return _mm512_test_epi64_mask(i, _mm512_set1_epi64(b)); }
  static V Load(K k, const double* p) { return _mm512_maskz_loadu_pd(k, p); }
  static void Store(double* p, K k, V v) { _mm512_mask_storeu_pd(p, k, v); }
  static V Permute(__m512i i, V a) { return _mm512_permutexvar_pd(i, a); }
  static V Permute2(V a, __m512i i, V b) { return _mm512_permutex2var_pd(a, i, b); }
  static V Blend(K k, V a, V b) { return _mm512_mask_blend_pd(k, a, b); }
  static V Keep(K k, V v) { return _mm512_maskz_mov_pd(k, v); }
};

// Rows held in up to this many vectors (256 floats, 128 doubles) are permuted.
constexpr int kMaxVectors = 16;

// One output vector: its lanes' source positions and masks.
template <typename T>
struct ZmmLane {
  __m512i index;
  typename Zmm<T>::K bit[3];  // bit[l]: the lane's source is in the upper half of a
                              // group of 4 << l vectors (bit log2(2 L) + l of index)
  typename Zmm<T>::K valid;   // index >= 0
  typename Zmm<T>::K tail;    // lanes inside [0, M)
};

// The lanes of `lane` from the N (a power of two) vectors a[0 .. N-1]: vpermt2ps on
// pairs, then a tree of blends on the higher index bits.
template <typename T, int N>
inline typename Zmm<T>::V Select(const typename Zmm<T>::V* a, const ZmmLane<T>& lane) {
  typedef Zmm<T> Z;
  if constexpr (N == 1) {
    return Z::Permute(lane.index, a[0]);
  } else if constexpr (N == 2) {
    return Z::Permute2(a[0], lane.index, a[1]);
  } else {
    constexpr int level = N == 4 ? 0 : N == 8 ? 1 : 2;
    return Z::Blend(lane.bit[level], Select<T, N / 2>(a, lane), Select<T, N / 2>(a + N / 2, lane));
  }
}

// The units [begin, end) of Gather with the rows held in NV (1, 2, 4, 8 or 16) vectors.
template <typename T, int NV>
void PermuteUnits(const std::vector<ZmmLane<T>>& lanes, const T* in, int64_t D, int64_t M,
                  int64_t chunks, bool missing, int64_t begin, int64_t end, T* out) {
  typedef Zmm<T> Z;
  constexpr int64_t L = Z::kLanes;
  typename Z::K load[NV];
  for (int k = 0; k < NV; ++k) load[k] = Z::Lanes(std::max<int64_t>(0, D - k * L));
  for (int64_t unit = begin; unit < end; ++unit) {
    const int64_t r = unit / chunks, c = unit % chunks;
    const T* src = in + r * D;
    T* dst = out + r * M;
    typename Z::V a[NV];
    for (int k = 0; k < NV; ++k) a[k] = Z::Load(load[k], src + k * L);
    const int64_t j1 = (std::min(M, (c + 1) * kChunk) + L - 1) / L;
    for (int64_t j = c * kChunk / L; j < j1; ++j) {
      const ZmmLane<T>& lane = lanes[j];
      typename Z::V v = Select<T, NV>(a, lane);
      if (missing) v = Z::Keep(lane.valid, v);
      Z::Store(dst + j * L, lane.tail, v);
    }
  }
}

// Runs Gather's units in registers when the rows fit; false when they do not.
template <typename T>
bool PermuteGather(const CPUDevice& d, const Plan& p, const T* in, int64_t rows, T* out,
                   const Eigen::TensorOpCost& cost) {
  if constexpr (!Zmm<T>::kEnabled) {
    return false;
  } else {
    typedef Zmm<T> Z;
    constexpr int64_t L = Z::kLanes;
    const int64_t D = p.in_depth, M = p.out_depth;
    if (D < 1 || D > kMaxVectors * L) return false;
    int nv = 1;
    while (nv * L < D) nv *= 2;
    std::vector<ZmmLane<T>> lanes((M + L - 1) / L);
    for (size_t j = 0; j < lanes.size(); ++j) {
      int32_t idx[L] = {};
      const int64_t n = std::min(L, M - static_cast<int64_t>(j) * L);
      std::copy(p.index + j * L, p.index + j * L + n, idx);
      lanes[j].index = Z::Index(idx);
      for (int l = 0; l < 3; ++l) lanes[j].bit[l] = Z::Bit(lanes[j].index, (2 * L) << l);
      lanes[j].valid = Z::NonNegative(lanes[j].index);
      lanes[j].tail = Z::Lanes(n);
    }
    const int64_t chunks = static_cast<int64_t>(p.chunk_runs.size()) - 1;
    d.parallelFor(rows * chunks, cost, [&](Eigen::Index begin, Eigen::Index end) {
      switch (nv) {
        case 1: return PermuteUnits<T, 1>(lanes, in, D, M, chunks, p.missing, begin, end, out);
        case 2: return PermuteUnits<T, 2>(lanes, in, D, M, chunks, p.missing, begin, end, out);
        case 4: return PermuteUnits<T, 4>(lanes, in, D, M, chunks, p.missing, begin, end, out);
        case 8: return PermuteUnits<T, 8>(lanes, in, D, M, chunks, p.missing, begin, end, out);
        default: return PermuteUnits<T, 16>(lanes, in, D, M, chunks, p.missing, begin, end, out);
      }
    });
    return true;
  }
}
#else
template <typename T>
bool PermuteGather(const CPUDevice&, const Plan&, const T*, int64_t, T*,
                   const Eigen::TensorOpCost&) {
  return false;
}
#endif  // __AVX512F__

// out[r, m] = in[r, index[m]] (or 0) for rows r of [P, D] -> [P, M]. A work unit is one
// chunk of one row; the outputs of consecutive units are contiguous.
template <typename T>
void Gather(const CPUDevice& d, const Plan& p, const T* in, int64_t rows, T* out) {
  const int64_t D = p.in_depth, M = p.out_depth;
  if (rows == 0 || M == 0) return;
  const int64_t chunks = static_cast<int64_t>(p.chunk_runs.size()) - 1;
  const int64_t len = std::min(M, kChunk);
  const Eigen::TensorOpCost cost(len * (sizeof(T) + (p.use_runs ? 0 : sizeof(int32_t))),
                                 len * sizeof(T), len);
  if (PermuteGather<T>(d, p, in, rows, out, cost)) return;
  d.parallelFor(rows * chunks, cost, [&](Eigen::Index begin, Eigen::Index end) {
    if (p.use_runs) {
      for (Eigen::Index unit = begin; unit < end; ++unit) {
        const int64_t r = unit / chunks, c = unit % chunks;
        const T* src = in + r * D;
        T* dst = out + r * M;
        for (int64_t k = p.chunk_runs[c]; k < p.chunk_runs[c + 1]; ++k) {
          const Run& run = p.runs[k];
          if (run.src < 0) {
            std::fill(dst + run.dst, dst + run.dst + run.len, T(0));
          } else {
            std::memcpy(dst + run.dst, src + run.src, run.len * sizeof(T));
          }
        }
      }
      return;
    }
    // Element by element into a buffer that stays in L1, copied out when full:
    // storing straight to the output was 1.8x slower (single thread, float
    // [100352, 64], random permutation), likely from 4K aliasing between the
    // loads from params and the stores to the output.
    alignas(64) T buf[kChunk];
    const int32_t* idx = p.index;
    T* flushed = out + (begin / chunks) * M + (begin % chunks) * kChunk;
    int64_t fill = 0;
    for (Eigen::Index unit = begin; unit < end; ++unit) {
      const int64_t r = unit / chunks, c = unit % chunks;
      const int64_t m0 = c * kChunk, m1 = std::min(M, m0 + kChunk);
      if (fill + (m1 - m0) > kChunk) {
        std::memcpy(flushed, buf, fill * sizeof(T));
        flushed += fill;
        fill = 0;
      }
      const T* src = in + r * D;
      const int32_t* ix = idx + m0;
      const int64_t n = m1 - m0;
      T* b = buf + fill;
      if (p.missing) {
        for (int64_t k = 0; k < n; ++k) b[k] = ix[k] >= 0 ? src[ix[k]] : T(0);
      } else {
        for (int64_t k = 0; k < n; ++k) b[k] = src[ix[k]];
      }
      fill += n;
    }
    std::memcpy(flushed, buf, fill * sizeof(T));
  });
}

template <typename T>
struct Accum {
  typedef T type;
};
template <>
struct Accum<Eigen::half> {
  typedef float type;
};
template <>
struct Accum<Eigen::bfloat16> {
  typedef float type;
};

// out[r, :] = 0; out[r, index[m]] += upd[r, m] for rows r of [P, M] -> [P, D]
// (the general case: duplicate index values), accumulated in a row buffer.
template <typename T>
void ScatterAdd(const CPUDevice& d, const T* upd, const int32_t* index, int64_t rows, int64_t M,
                int64_t D, T* out) {
  typedef typename Accum<T>::type A;
  const Eigen::TensorOpCost cost(M * (sizeof(T) + sizeof(int32_t)), D * sizeof(T), M + D);
  d.parallelFor(rows, cost, [&](Eigen::Index begin, Eigen::Index end) {
    std::vector<A> acc(D);
    for (Eigen::Index r = begin; r < end; ++r) {
      const T* u = upd + r * M;
      T* o = out + r * D;
      std::fill(acc.begin(), acc.end(), A(0));
      for (int64_t m = 0; m < M; ++m)
        if (index[m] >= 0) acc[index[m]] += static_cast<A>(u[m]);
      if constexpr (std::is_same<A, T>::value) {
        std::memcpy(o, acc.data(), D * sizeof(T));
      } else {
        for (int64_t k = 0; k < D; ++k) o[k] = static_cast<T>(acc[k]);
      }
    }
  });
}

// [P] = the product of all but the last dimension.
int64_t Rows(const TensorShape& s) {
  int64_t rows = 1;
  for (int i = 0; i + 1 < s.dims(); ++i) rows *= s.dim_size(i);
  return rows;
}

absl::Status CheckIndex(const Tensor& index, int64_t depth, const char* what) {
  if (index.dims() != 1)
    return errors::InvalidArgument("index must be 1-D, got shape ", index.shape().DebugString());
  const auto idx = index.flat<int32_t>();
  for (int64_t m = 0; m < idx.size(); ++m) {
    if (idx(m) < -1 || idx(m) >= depth)
      return errors::InvalidArgument("index[", m, "] = ", idx(m), " is out of range [-1, ",
                                     depth, ") (", what, " = ", depth, ")");
  }
  return absl::OkStatus();
}

template <typename T>
class GatherChannelsOp : public OpKernel {
 public:
  explicit GatherChannelsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& params = ctx->input(0);
    const Tensor& index = ctx->input(1);
    OP_REQUIRES(ctx, params.dims() >= 1,
                errors::InvalidArgument("params must have rank >= 1, got shape ",
                                        params.shape().DebugString()));
    const int64_t D = params.dim_size(params.dims() - 1);
    OP_REQUIRES_OK(ctx, CheckIndex(index, D, "params.shape[-1]"));
    const int64_t M = index.NumElements();
    TensorShape shape = params.shape();
    shape.set_dim(shape.dims() - 1, M);
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    if (out->NumElements() == 0) return;
    const Plan plan = MakePlan(index.flat<int32_t>().data(), D, M);
    Gather<T>(ctx->eigen_device<CPUDevice>(), plan, params.flat<T>().data(), Rows(shape),
              out->flat<T>().data());
  }
};

template <typename T>
class ScatterAddChannelsOp : public OpKernel {
 public:
  explicit ScatterAddChannelsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& updates = ctx->input(0);
    const Tensor& index = ctx->input(1);
    const Tensor& depth_tensor = ctx->input(2);
    OP_REQUIRES(ctx, updates.dims() >= 1,
                errors::InvalidArgument("updates must have rank >= 1, got shape ",
                                        updates.shape().DebugString()));
    OP_REQUIRES(ctx, TensorShapeUtils::IsScalar(depth_tensor.shape()),
                errors::InvalidArgument("depth must be a scalar, got shape ",
                                        depth_tensor.shape().DebugString()));
    const int64_t D = depth_tensor.scalar<int32_t>()();
    OP_REQUIRES(ctx, D >= 0, errors::InvalidArgument("depth must be >= 0, got ", D));
    OP_REQUIRES_OK(ctx, CheckIndex(index, D, "depth"));
    const int64_t M = index.NumElements();
    OP_REQUIRES(ctx, updates.dim_size(updates.dims() - 1) == M,
                errors::InvalidArgument("updates.shape[-1] = ",
                                        updates.dim_size(updates.dims() - 1),
                                        " must equal the length of index, ", M));
    TensorShape shape = updates.shape();
    shape.set_dim(shape.dims() - 1, D);
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &out));
    if (out->NumElements() == 0) return;
    const int64_t rows = Rows(shape);
    const int32_t* idx = index.flat<int32_t>().data();
    T* o = out->flat<T>().data();
    const CPUDevice& d = ctx->eigen_device<CPUDevice>();
    // Without duplicates the scatter is a gather with the inverse index.
    std::vector<int32_t> inverse(D, -1);
    bool unique = true;
    for (int64_t m = 0; m < M && unique; ++m) {
      if (idx[m] < 0) continue;
      unique = inverse[idx[m]] < 0;
      inverse[idx[m]] = static_cast<int32_t>(m);
    }
    if (unique) {
      Gather<T>(d, MakePlan(inverse.data(), M, D), updates.flat<T>().data(), rows, o);
    } else {
      ScatterAdd<T>(d, updates.flat<T>().data(), idx, rows, M, D, o);
    }
  }
};

#define TF_PE_REGISTER_GATHER(T)                                                         \
  REGISTER_KERNEL_BUILDER(                                                               \
      Name("TfPe>GatherChannels").Device(DEVICE_CPU).TypeConstraint<T>("T"),             \
      GatherChannelsOp<T>);                                                              \
  REGISTER_KERNEL_BUILDER(Name("TfPe>ScatterAddChannels")                                \
                              .Device(DEVICE_CPU)                                        \
                              .TypeConstraint<T>("T"),                                   \
                          ScatterAddChannelsOp<T>);

TF_PE_REGISTER_GATHER(float)
TF_PE_REGISTER_GATHER(double)
TF_PE_REGISTER_GATHER(Eigen::half)
TF_PE_REGISTER_GATHER(Eigen::bfloat16)

}  // namespace
}  // namespace tf_pe
