// TfPe>SparseChannelConv2D on CUDA: the per-element computations and the functors.
//
// Every CUDA kernel of sparse_channel_conv2d_gpu.cu.cc is a grid-stride loop around
// one of the `*Thread` functions below; they are `TF_PE_HOST_DEVICE`, so the same
// indexing code also compiles with g++ and runs on the host, where the standalone
// harness (tf_pe/ops/cuda/harness.cu.cc) emulates a launch thread by thread and
// compares it with an independent dense reference. This header needs no TensorFlow
// and no CUDA header. The connection structure is the CSR form of
// sparse_channel_conv2d.h (indptr over output channels, increasing input indices).
//
// Work is proportional to the active connections:
//   forward      out[n,oh,ow,j] = sum_{p in row j, s, t} x[n, ih, iw, indices[p]] k[s,t,p],
//                with ih = oh*sr + s*dr - pad_top, iw = ow*sc + t*dc - pad_left;
//   input grad   dx[n,h,w,c]    = sum_{(j,p) in column c, s, t} dy[n, oh, ow, j] k[s,t,p],
//                over the (oh, ow) with oh*sr + s*dr - pad_top = h (and for w);
//                the columns (per input channel its (j, p) list) are built on the
//                device from the CSR rows, in increasing j, so sums are deterministic;
//   kernel grad  dk[s,t,p]      = sum_{n,oh,ow} dy[n,oh,ow,j] x[n, ih, iw, indices[p]],
//                j the row of p; one thread block per element, a fixed-order tree.
#ifndef TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_GPU_H_
#define TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_GPU_H_

#include <cstdint>

#include "sparse_channel_conv2d.h"

#if defined(__CUDACC__)
#define TF_PE_HOST_DEVICE __host__ __device__
#else
#define TF_PE_HOST_DEVICE
#endif

struct CUstream_st;  // cudaStream_t is CUstream_st*; no CUDA header needed here.

namespace tf_pe {
namespace gpu {

// Threads per block of every kernel; the kernel-gradient tree needs a power of two.
constexpr int kBlock = 256;

// Connection-structure errors found by ValidateRowThread (0: none).
enum ConnectionError : int32_t {
  kOk = 0,
  kIndptrStart = 1,     // indptr[0] != 0
  kIndptrEnd = 2,       // indptr[out_depth] != nnz
  kIndptrOrder = 3,     // indptr[j+1] < indptr[j] or > nnz
  kIndexRange = 4,      // an input channel outside [0, in_depth)
  kIndexOrder = 5,      // input channels not strictly increasing in a row
};

TF_PE_HOST_DEVICE inline int64_t OutputElements(const ConvGeometry& g) {
  return g.batch * g.out_rows * g.out_cols * g.out_depth;
}

TF_PE_HOST_DEVICE inline int64_t InputElements(const ConvGeometry& g) {
  return g.batch * g.in_rows * g.in_cols * g.in_depth;
}

TF_PE_HOST_DEVICE inline int64_t KernelElements(const ConvGeometry& g) {
  return g.filter_rows * g.filter_cols * g.nnz;
}

// Rows that ValidateRowsThread checks: every output channel, and at least one so
// that indptr[0] == nnz == 0 is checked when there are no output channels.
TF_PE_HOST_DEVICE inline int64_t ValidatedRows(const ConvGeometry& g) {
  return g.out_depth > 0 ? g.out_depth : 1;
}

// The error of row j (the first found), or kOk.
TF_PE_HOST_DEVICE inline int32_t ValidateRow(const ConvGeometry& g, const int32_t* indptr,
                                             const int32_t* indices, int64_t j) {
  if (j == 0 && indptr[0] != 0) return kIndptrStart;
  if (j == ValidatedRows(g) - 1 && indptr[g.out_depth] != g.nnz) return kIndptrEnd;
  if (j >= g.out_depth) return kOk;
  const int32_t begin = indptr[j], end = indptr[j + 1];
  if (begin < 0 || end < begin || end > g.nnz) return kIndptrOrder;
  for (int32_t p = begin; p < end; ++p) {
    if (indices[p] < 0 || indices[p] >= g.in_depth) return kIndexRange;
    if (p > begin && indices[p] <= indices[p - 1]) return kIndexOrder;
  }
  return kOk;
}

// Thread `tid` of `threads` checks its rows; status[0] gets the largest error code,
// status[1] the smallest row with an error (status starts as {kOk, INT32_MAX}). The
// device uses atomics; the host emulation runs the threads one after another.
TF_PE_HOST_DEVICE inline void ValidateRowsThread(const ConvGeometry& g, const int32_t* indptr,
                                                 const int32_t* indices, int32_t* status,
                                                 int64_t tid, int64_t threads) {
  for (int64_t j = tid; j < ValidatedRows(g); j += threads) {
    const int32_t error = ValidateRow(g, indptr, indices, j);
    if (error == kOk) continue;
#if defined(__CUDA_ARCH__)
    atomicMin(status + 1, static_cast<int32_t>(j));
    atomicMax(status, error);
#else
    if (j < status[1]) status[1] = static_cast<int32_t>(j);
    if (error > status[0]) status[0] = error;
#endif
  }
}

// Position of input channel c in row [begin, end) of `indices` (increasing), or -1.
TF_PE_HOST_DEVICE inline int32_t FindInRow(const int32_t* indices, int32_t begin, int32_t end,
                                           int32_t c) {
  int32_t lo = begin, hi = end;  // lower bound of c in [begin, end)
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (indices[mid] < c) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return (lo < end && indices[lo] == c) ? lo : -1;
}

// The output channel j whose row holds position p (indptr[j] <= p < indptr[j+1]).
TF_PE_HOST_DEVICE inline int64_t RowOf(const int32_t* indptr, int64_t out_depth, int64_t p) {
  int64_t lo = 0, hi = out_depth;  // the last j with indptr[j] <= p is in [lo, hi)
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (indptr[mid] <= p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Workspace (int32 elements) of the input gradient: the columns of the structure.
TF_PE_HOST_DEVICE inline int64_t ColumnWorkspaceSize(const ConvGeometry& g) {
  return g.in_depth + 1 + 2 * g.nnz;
}

// Column pass 1: col_ptr[c + 1] = the number of connections of input channel c.
TF_PE_HOST_DEVICE inline void CountColumnsThread(const ConvGeometry& g, const int32_t* indptr,
                                                 const int32_t* indices, int32_t* col_ptr,
                                                 int64_t tid, int64_t threads) {
  for (int64_t c = tid; c < g.in_depth; c += threads) {
    int32_t count = 0;
    for (int64_t j = 0; j < g.out_depth; ++j) {
      count += FindInRow(indices, indptr[j], indptr[j + 1], static_cast<int32_t>(c)) >= 0;
    }
    col_ptr[c + 1] = count;
  }
}

// Column pass 2 (one thread): the counts become offsets, col_ptr[0] = 0.
TF_PE_HOST_DEVICE inline void ScanColumnsThread(const ConvGeometry& g, int32_t* col_ptr,
                                                int64_t tid) {
  if (tid != 0) return;
  col_ptr[0] = 0;
  for (int64_t c = 0; c < g.in_depth; ++c) col_ptr[c + 1] += col_ptr[c];
}

// Column pass 3: column c lists its (output channel, position) pairs in increasing j.
TF_PE_HOST_DEVICE inline void FillColumnsThread(const ConvGeometry& g, const int32_t* indptr,
                                                const int32_t* indices, const int32_t* col_ptr,
                                                int32_t* col_out, int32_t* col_pos, int64_t tid,
                                                int64_t threads) {
  for (int64_t c = tid; c < g.in_depth; c += threads) {
    int32_t k = col_ptr[c];
    for (int64_t j = 0; j < g.out_depth; ++j) {
      const int32_t p = FindInRow(indices, indptr[j], indptr[j + 1], static_cast<int32_t>(c));
      if (p < 0) continue;
      col_out[k] = static_cast<int32_t>(j);
      col_pos[k] = p;
      ++k;
    }
  }
}

// One output element, i = ((n * out_rows + oh) * out_cols + ow) * out_depth + j.
template <typename T>
TF_PE_HOST_DEVICE inline T ForwardElement(const ConvGeometry& g, const T* input, const T* kernel,
                                          const int32_t* indptr, const int32_t* indices,
                                          int64_t i) {
  const int64_t j = i % g.out_depth;
  int64_t rest = i / g.out_depth;
  const int64_t ow = rest % g.out_cols;
  rest /= g.out_cols;
  const int64_t oh = rest % g.out_rows;
  const int64_t n = rest / g.out_rows;
  T acc = T(0);
  for (int64_t s = 0; s < g.filter_rows; ++s) {
    const int64_t ih = oh * g.stride_rows + s * g.dilation_rows - g.pad_top;
    if (ih < 0 || ih >= g.in_rows) continue;
    for (int64_t t = 0; t < g.filter_cols; ++t) {
      const int64_t iw = ow * g.stride_cols + t * g.dilation_cols - g.pad_left;
      if (iw < 0 || iw >= g.in_cols) continue;
      const T* x = input + ((n * g.in_rows + ih) * g.in_cols + iw) * g.in_depth;
      const T* k = kernel + (s * g.filter_cols + t) * g.nnz;
      for (int32_t p = indptr[j]; p < indptr[j + 1]; ++p) acc += x[indices[p]] * k[p];
    }
  }
  return acc;
}

template <typename T>
TF_PE_HOST_DEVICE inline void ForwardThread(const ConvGeometry& g, const T* input,
                                            const T* kernel, const int32_t* indptr,
                                            const int32_t* indices, T* output, int64_t tid,
                                            int64_t threads) {
  const int64_t total = OutputElements(g);
  for (int64_t i = tid; i < total; i += threads) {
    output[i] = ForwardElement(g, input, kernel, indptr, indices, i);
  }
}

// One input-gradient element, i = ((n * in_rows + h) * in_cols + w) * in_depth + c.
template <typename T>
TF_PE_HOST_DEVICE inline T BackpropInputElement(const ConvGeometry& g, const T* kernel,
                                                const int32_t* col_ptr, const int32_t* col_out,
                                                const int32_t* col_pos, const T* out_backprop,
                                                int64_t i) {
  const int64_t c = i % g.in_depth;
  int64_t rest = i / g.in_depth;
  const int64_t w = rest % g.in_cols;
  rest /= g.in_cols;
  const int64_t h = rest % g.in_rows;
  const int64_t n = rest / g.in_rows;
  T acc = T(0);
  for (int64_t s = 0; s < g.filter_rows; ++s) {
    const int64_t r = h + g.pad_top - s * g.dilation_rows;  // = oh * stride_rows
    if (r < 0 || r % g.stride_rows != 0 || r / g.stride_rows >= g.out_rows) continue;
    const int64_t oh = r / g.stride_rows;
    for (int64_t t = 0; t < g.filter_cols; ++t) {
      const int64_t q = w + g.pad_left - t * g.dilation_cols;
      if (q < 0 || q % g.stride_cols != 0 || q / g.stride_cols >= g.out_cols) continue;
      const int64_t ow = q / g.stride_cols;
      const T* dy = out_backprop + ((n * g.out_rows + oh) * g.out_cols + ow) * g.out_depth;
      const T* k = kernel + (s * g.filter_cols + t) * g.nnz;
      for (int32_t e = col_ptr[c]; e < col_ptr[c + 1]; ++e) acc += dy[col_out[e]] * k[col_pos[e]];
    }
  }
  return acc;
}

template <typename T>
TF_PE_HOST_DEVICE inline void BackpropInputThread(const ConvGeometry& g, const T* kernel,
                                                  const int32_t* col_ptr, const int32_t* col_out,
                                                  const int32_t* col_pos, const T* out_backprop,
                                                  T* in_backprop, int64_t tid, int64_t threads) {
  const int64_t total = InputElements(g);
  for (int64_t i = tid; i < total; i += threads) {
    in_backprop[i] = BackpropInputElement(g, kernel, col_ptr, col_out, col_pos, out_backprop, i);
  }
}

// Lane `lane` of `lanes`'s share of kernel-gradient element e = (s * kw + t) * nnz + p:
// the output pixels lane, lane + lanes, ... (a block reduces the lanes' shares).
template <typename T>
TF_PE_HOST_DEVICE inline T BackpropKernelPartial(const ConvGeometry& g, const T* input,
                                                 const int32_t* indptr, const int32_t* indices,
                                                 const T* out_backprop, int64_t e, int64_t lane,
                                                 int64_t lanes) {
  const int64_t p = e % g.nnz;
  const int64_t tap = e / g.nnz;
  const int64_t s = tap / g.filter_cols, t = tap % g.filter_cols;
  const int64_t j = RowOf(indptr, g.out_depth, p);
  const int64_t c = indices[p];
  const int64_t pixels = g.batch * g.out_rows * g.out_cols;
  T acc = T(0);
  for (int64_t q = lane; q < pixels; q += lanes) {
    const int64_t ow = q % g.out_cols;
    const int64_t oh = (q / g.out_cols) % g.out_rows;
    const int64_t n = q / (g.out_cols * g.out_rows);
    const int64_t ih = oh * g.stride_rows + s * g.dilation_rows - g.pad_top;
    const int64_t iw = ow * g.stride_cols + t * g.dilation_cols - g.pad_left;
    if (ih < 0 || ih >= g.in_rows || iw < 0 || iw >= g.in_cols) continue;
    acc += out_backprop[q * g.out_depth + j] *
           input[((n * g.in_rows + ih) * g.in_cols + iw) * g.in_depth + c];
  }
  return acc;
}

// A CUDA stream for the functors (TensorFlow passes its GPU device's stream).
struct Stream {
  CUstream_st* stream;
};

}  // namespace gpu

// The gradient functors, declared like SparseChannelConv2DFunctor.
template <typename Device, typename T>
struct SparseChannelConv2DBackpropInputFunctor {
  // `workspace` holds gpu::ColumnWorkspaceSize(g) int32 elements.
  void operator()(const Device& d, const ConvGeometry& g, const T* kernel, const int32_t* indptr,
                  const int32_t* indices, const T* out_backprop, int32_t* workspace,
                  T* in_backprop);
};

template <typename Device, typename T>
struct SparseChannelConv2DBackpropKernelFunctor {
  void operator()(const Device& d, const ConvGeometry& g, const T* input, const int32_t* indptr,
                  const int32_t* indices, const T* out_backprop, T* kernel_backprop);
};

// Checks the connection structure on the device: `status` (2 int32 on the device)
// receives {error code, first bad row}; see gpu::ValidateRowsThread.
template <typename Device>
struct ValidateConnectionsFunctor {
  void operator()(const Device& d, const ConvGeometry& g, const int32_t* indptr,
                  const int32_t* indices, int32_t* status);
};

// The CUDA versions (Device = gpu::Stream, every pointer on the device), launched
// asynchronously on the stream; defined and explicitly instantiated for float and
// double in sparse_channel_conv2d_gpu.cu.cc.
template <typename T>
struct SparseChannelConv2DFunctor<gpu::Stream, T> {
  void operator()(const gpu::Stream& d, const ConvGeometry& g, const T* input, const T* kernel,
                  const int32_t* indptr, const int32_t* indices, T* output);
};

template <typename T>
struct SparseChannelConv2DBackpropInputFunctor<gpu::Stream, T> {
  void operator()(const gpu::Stream& d, const ConvGeometry& g, const T* kernel,
                  const int32_t* indptr, const int32_t* indices, const T* out_backprop,
                  int32_t* workspace, T* in_backprop);
};

template <typename T>
struct SparseChannelConv2DBackpropKernelFunctor<gpu::Stream, T> {
  void operator()(const gpu::Stream& d, const ConvGeometry& g, const T* input,
                  const int32_t* indptr, const int32_t* indices, const T* out_backprop,
                  T* kernel_backprop);
};

template <>
void ValidateConnectionsFunctor<gpu::Stream>::operator()(const gpu::Stream& d,
                                                         const ConvGeometry& g,
                                                         const int32_t* indptr,
                                                         const int32_t* indices,
                                                         int32_t* status);

}  // namespace tf_pe

#endif  // TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_GPU_H_
