// TfPe>SparseChannelConv2D: the CUDA kernels and the GPU functors (Device = gpu::Stream).
//
// Plain CUDA, no TensorFlow header: each kernel is a grid-stride loop around a
// `*Thread` function of sparse_channel_conv2d_gpu.h, the code that the harness
// (tf_pe/ops/cuda/harness.cu.cc) also runs on the host. The TensorFlow kernel
// registrations that call these functors are in sparse_channel_conv2d_gpu_kernels.cc.
#if GOOGLE_CUDA

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "sparse_channel_conv2d_gpu.h"

namespace tf_pe {
namespace gpu {
namespace {

// Enough blocks to cover `work` items with kBlock threads, capped (grid-stride loops
// cover the rest); never 0, so that a launch is always valid.
int Blocks(int64_t work) {
  constexpr int64_t kMaxBlocks = 4096;
  return static_cast<int>(std::max<int64_t>(1, std::min(kMaxBlocks, (work + kBlock - 1) / kBlock)));
}

__device__ inline int64_t ThreadId() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ inline int64_t Threads() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

__global__ void ValidateKernel(ConvGeometry g, const int32_t* indptr, const int32_t* indices,
                               int32_t* status) {
  ValidateRowsThread(g, indptr, indices, status, ThreadId(), Threads());
}

__global__ void InitStatusKernel(int32_t* status) {
  status[0] = kOk;
  status[1] = INT32_MAX;
}

template <typename T>
__global__ void ForwardKernel(ConvGeometry g, const T* input, const T* kernel,
                              const int32_t* indptr, const int32_t* indices, T* output) {
  ForwardThread(g, input, kernel, indptr, indices, output, ThreadId(), Threads());
}

__global__ void CountColumnsKernel(ConvGeometry g, const int32_t* indptr, const int32_t* indices,
                                   int32_t* col_ptr) {
  CountColumnsThread(g, indptr, indices, col_ptr, ThreadId(), Threads());
}

__global__ void ScanColumnsKernel(ConvGeometry g, int32_t* col_ptr) {
  ScanColumnsThread(g, col_ptr, ThreadId());
}

__global__ void FillColumnsKernel(ConvGeometry g, const int32_t* indptr, const int32_t* indices,
                                  const int32_t* col_ptr, int32_t* col_out, int32_t* col_pos) {
  FillColumnsThread(g, indptr, indices, col_ptr, col_out, col_pos, ThreadId(), Threads());
}

template <typename T>
__global__ void BackpropInputKernel(ConvGeometry g, const T* kernel, const int32_t* col_ptr,
                                    const int32_t* col_out, const int32_t* col_pos,
                                    const T* out_backprop, T* in_backprop) {
  BackpropInputThread(g, kernel, col_ptr, col_out, col_pos, out_backprop, in_backprop,
                      ThreadId(), Threads());
}

// Block b reduces kernel-gradient elements b, b + gridDim.x, ...: each of the kBlock
// lanes sums a strided share of the output pixels, then a fixed-order tree.
template <typename T>
__global__ void __launch_bounds__(kBlock)
    BackpropKernelKernel(ConvGeometry g, const T* input, const int32_t* indptr,
                         const int32_t* indices, const T* out_backprop, T* kernel_backprop) {
  __shared__ T partial[kBlock];
  const int64_t total = KernelElements(g);
  for (int64_t e = blockIdx.x; e < total; e += gridDim.x) {
    partial[threadIdx.x] =
        BackpropKernelPartial(g, input, indptr, indices, out_backprop, e, threadIdx.x, kBlock);
    __syncthreads();
    for (int half = kBlock / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) kernel_backprop[e] = partial[0];
    __syncthreads();
  }
}

}  // namespace
}  // namespace gpu

template <>
void ValidateConnectionsFunctor<gpu::Stream>::operator()(const gpu::Stream& d,
                                                         const ConvGeometry& g,
                                                         const int32_t* indptr,
                                                         const int32_t* indices,
                                                         int32_t* status) {
  gpu::InitStatusKernel<<<1, 1, 0, d.stream>>>(status);
  gpu::ValidateKernel<<<gpu::Blocks(gpu::ValidatedRows(g)), gpu::kBlock, 0, d.stream>>>(
      g, indptr, indices, status);
}

template <typename T>
void SparseChannelConv2DFunctor<gpu::Stream, T>::operator()(
    const gpu::Stream& d, const ConvGeometry& g, const T* input, const T* kernel,
    const int32_t* indptr, const int32_t* indices, T* output) {
  const int64_t total = gpu::OutputElements(g);
  if (total == 0) return;
  gpu::ForwardKernel<T><<<gpu::Blocks(total), gpu::kBlock, 0, d.stream>>>(
      g, input, kernel, indptr, indices, output);
}

template <typename T>
void SparseChannelConv2DBackpropInputFunctor<gpu::Stream, T>::operator()(
    const gpu::Stream& d, const ConvGeometry& g, const T* kernel, const int32_t* indptr,
    const int32_t* indices, const T* out_backprop, int32_t* workspace, T* in_backprop) {
  const int64_t total = gpu::InputElements(g);
  if (total == 0) return;
  int32_t* col_ptr = workspace;
  int32_t* col_out = col_ptr + g.in_depth + 1;
  int32_t* col_pos = col_out + g.nnz;
  const int blocks = gpu::Blocks(g.in_depth);
  gpu::CountColumnsKernel<<<blocks, gpu::kBlock, 0, d.stream>>>(g, indptr, indices, col_ptr);
  gpu::ScanColumnsKernel<<<1, 1, 0, d.stream>>>(g, col_ptr);
  gpu::FillColumnsKernel<<<blocks, gpu::kBlock, 0, d.stream>>>(g, indptr, indices, col_ptr,
                                                               col_out, col_pos);
  gpu::BackpropInputKernel<T><<<gpu::Blocks(total), gpu::kBlock, 0, d.stream>>>(
      g, kernel, col_ptr, col_out, col_pos, out_backprop, in_backprop);
}

template <typename T>
void SparseChannelConv2DBackpropKernelFunctor<gpu::Stream, T>::operator()(
    const gpu::Stream& d, const ConvGeometry& g, const T* input, const int32_t* indptr,
    const int32_t* indices, const T* out_backprop, T* kernel_backprop) {
  const int64_t total = gpu::KernelElements(g);
  if (total == 0) return;
  const int blocks = static_cast<int>(std::min<int64_t>(total, 65535));
  gpu::BackpropKernelKernel<T><<<blocks, gpu::kBlock, 0, d.stream>>>(
      g, input, indptr, indices, out_backprop, kernel_backprop);
}

template struct SparseChannelConv2DFunctor<gpu::Stream, float>;
template struct SparseChannelConv2DFunctor<gpu::Stream, double>;
template struct SparseChannelConv2DBackpropInputFunctor<gpu::Stream, float>;
template struct SparseChannelConv2DBackpropInputFunctor<gpu::Stream, double>;
template struct SparseChannelConv2DBackpropKernelFunctor<gpu::Stream, float>;
template struct SparseChannelConv2DBackpropKernelFunctor<gpu::Stream, double>;

}  // namespace tf_pe

#endif  // GOOGLE_CUDA
