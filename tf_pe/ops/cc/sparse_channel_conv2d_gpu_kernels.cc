// TfPe>SparseChannelConv2D and its gradient ops: the GPU kernel registrations.
//
// Compiled only with GOOGLE_CUDA (`python -m tf_pe.ops.build` when nvcc is found,
// see build.py); the CUDA functors are in sparse_channel_conv2d_gpu.cu.cc. float and
// double, every tensor on the device except the shape inputs of the gradient ops.
// The connection structure lives on the device, so it is validated there and the
// verdict is read back before any kernel runs (one stream synchronization per call):
// bad indices are an InvalidArgument error, never an out-of-bounds read.
#if GOOGLE_CUDA
#define EIGEN_USE_GPU

#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sparse_channel_conv2d.h"
#include "sparse_channel_conv2d_gpu.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace tf_pe {
namespace {

using ::tensorflow::DEVICE_GPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
namespace errors = ::tensorflow::errors;
typedef Eigen::GpuDevice GPUDevice;

gpu::Stream StreamOf(OpKernelContext* ctx) {
  return gpu::Stream{ctx->eigen_device<GPUDevice>().stream()};
}

// tf.nn.conv2d's output size and leading padding along one dimension (the CPU
// kernel's rule, so that both devices accept and reject the same shapes).
absl::Status OutputSize(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                        const std::string& padding, int64_t* out, int64_t* pad) {
  const int64_t effective = (k - 1) * dilation + 1;
  if (padding == "VALID") {
    *out = (in - effective + stride) / stride;
    *pad = 0;
  } else {
    *out = (in + stride - 1) / stride;
    *pad = std::max<int64_t>(0, (*out - 1) * stride + effective - in) / 2;
  }
  if (*out < 0) {
    return errors::InvalidArgument("Computed output size would be negative: input ", in,
                                   ", effective kernel ", effective, ", stride ", stride);
  }
  return absl::OkStatus();
}

const char* ConnectionErrorText(int32_t code) {
  switch (code) {
    case gpu::kIndptrStart: return "indptr[0] must be 0";
    case gpu::kIndptrEnd: return "indptr[-1] must equal nnz (the kernel's last dimension)";
    case gpu::kIndptrOrder: return "indptr must be non-decreasing and <= nnz";
    case gpu::kIndexRange: return "an input channel index is out of range [0, in_depth)";
    case gpu::kIndexOrder: return "indices must be strictly increasing within each output channel";
    default: return "unknown error";
  }
}

class GpuConvBase : public OpKernel {
 public:
  explicit GpuConvBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
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
  // The geometry from the shapes; the structure's values are checked by Validate.
  absl::Status Geometry(const TensorShape& input, const TensorShape& kernel, const Tensor& indptr,
                        const Tensor& indices, ConvGeometry* g) const {
    if (input.dims() != 4)
      return errors::InvalidArgument("input must be 4-D NHWC, got ", input.DebugString());
    if (kernel.dims() != 3)
      return errors::InvalidArgument("kernel must be 3-D [kh, kw, nnz], got ",
                                     kernel.DebugString());
    if (indptr.dims() != 1 || indptr.NumElements() < 1)
      return errors::InvalidArgument("indptr must be 1-D with at least one element");
    if (indices.dims() != 1) return errors::InvalidArgument("indices must be 1-D");
    g->batch = input.dim_size(0);
    g->in_rows = input.dim_size(1);
    g->in_cols = input.dim_size(2);
    g->in_depth = input.dim_size(3);
    g->filter_rows = kernel.dim_size(0);
    g->filter_cols = kernel.dim_size(1);
    g->nnz = kernel.dim_size(2);
    g->out_depth = indptr.NumElements() - 1;
    if (g->filter_rows < 1 || g->filter_cols < 1)
      return errors::InvalidArgument("kernel spatial size must be >= 1, got ",
                                     kernel.DebugString());
    if (indices.NumElements() != g->nnz)
      return errors::InvalidArgument("indices has ", indices.NumElements(),
                                     " elements but kernel has nnz = ", g->nnz);
    g->stride_rows = strides_[0];
    g->stride_cols = strides_[1];
    g->dilation_rows = dilations_[0];
    g->dilation_cols = dilations_[1];
    TF_RETURN_IF_ERROR(OutputSize(g->in_rows, g->filter_rows, g->stride_rows, g->dilation_rows,
                                  padding_, &g->out_rows, &g->pad_top));
    return OutputSize(g->in_cols, g->filter_cols, g->stride_cols, g->dilation_cols, padding_,
                      &g->out_cols, &g->pad_left);
  }

  // Checks indptr/indices on the device and waits for the verdict.
  absl::Status Validate(OpKernelContext* ctx, const ConvGeometry& g, const Tensor& indptr,
                        const Tensor& indices) const {
    Tensor status;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(::tensorflow::DT_INT32, TensorShape({2}), &status));
    const gpu::Stream d = StreamOf(ctx);
    ValidateConnectionsFunctor<gpu::Stream>()(d, g, indptr.flat<int32_t>().data(),
                                              indices.flat<int32_t>().data(),
                                              status.flat<int32_t>().data());
    int32_t host[2] = {0, 0};
    cudaError_t error = cudaMemcpyAsync(host, status.flat<int32_t>().data(), sizeof(host),
                                        cudaMemcpyDeviceToHost, d.stream);
    if (error == cudaSuccess) error = cudaStreamSynchronize(d.stream);
    if (error != cudaSuccess)
      return errors::Internal("validating the connection structure: ", cudaGetErrorString(error));
    if (host[0] != gpu::kOk)
      return errors::InvalidArgument(ConnectionErrorText(host[0]), " (output channel ", host[1],
                                     ")");
    return absl::OkStatus();
  }

  static absl::Status LaunchStatus() {
    const cudaError_t error = cudaGetLastError();
    if (error == cudaSuccess) return absl::OkStatus();
    return errors::Internal("CUDA launch failed: ", cudaGetErrorString(error));
  }

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

  static absl::Status CheckOutBackprop(const ConvGeometry& g, const Tensor& dy) {
    const TensorShape want({g.batch, g.out_rows, g.out_cols, g.out_depth});
    if (dy.shape() == want) return absl::OkStatus();
    return errors::InvalidArgument("out_backprop has shape ", dy.shape().DebugString(),
                                   ", expected ", want.DebugString());
  }

  std::vector<int32_t> strides_, dilations_;
  std::string padding_;
};

template <typename T>
class GpuForwardOp : public GpuConvBase {
 public:
  using GpuConvBase::GpuConvBase;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& input = ctx->input(0);
    const Tensor& kernel = ctx->input(1);
    const Tensor& indptr = ctx->input(2);
    const Tensor& indices = ctx->input(3);
    ConvGeometry g;
    OP_REQUIRES_OK(ctx, Geometry(input.shape(), kernel.shape(), indptr, indices, &g));
    OP_REQUIRES_OK(ctx, Validate(ctx, g, indptr, indices));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(
                            0, TensorShape({g.batch, g.out_rows, g.out_cols, g.out_depth}), &out));
    SparseChannelConv2DFunctor<gpu::Stream, T>()(
        StreamOf(ctx), g, input.flat<T>().data(), kernel.flat<T>().data(),
        indptr.flat<int32_t>().data(), indices.flat<int32_t>().data(), out->flat<T>().data());
    OP_REQUIRES_OK(ctx, LaunchStatus());
  }
};

template <typename T>
class GpuBackpropInputOp : public GpuConvBase {
 public:
  using GpuConvBase::GpuConvBase;
  void Compute(OpKernelContext* ctx) override {
    TensorShape input_shape;
    OP_REQUIRES_OK(ctx, ShapeFromTensor(ctx->input(0), 4, &input_shape));
    const Tensor& kernel = ctx->input(1);
    const Tensor& indptr = ctx->input(2);
    const Tensor& indices = ctx->input(3);
    const Tensor& dy = ctx->input(4);
    ConvGeometry g;
    OP_REQUIRES_OK(ctx, Geometry(input_shape, kernel.shape(), indptr, indices, &g));
    OP_REQUIRES_OK(ctx, CheckOutBackprop(g, dy));
    OP_REQUIRES_OK(ctx, Validate(ctx, g, indptr, indices));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, input_shape, &dx));
    Tensor workspace;
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(::tensorflow::DT_INT32,
                                           TensorShape({gpu::ColumnWorkspaceSize(g)}),
                                           &workspace));
    SparseChannelConv2DBackpropInputFunctor<gpu::Stream, T>()(
        StreamOf(ctx), g, kernel.flat<T>().data(), indptr.flat<int32_t>().data(),
        indices.flat<int32_t>().data(), dy.flat<T>().data(), workspace.flat<int32_t>().data(),
        dx->flat<T>().data());
    OP_REQUIRES_OK(ctx, LaunchStatus());
  }
};

template <typename T>
class GpuBackpropKernelOp : public GpuConvBase {
 public:
  using GpuConvBase::GpuConvBase;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& input = ctx->input(0);
    TensorShape kernel_shape;
    OP_REQUIRES_OK(ctx, ShapeFromTensor(ctx->input(1), 3, &kernel_shape));
    const Tensor& indptr = ctx->input(2);
    const Tensor& indices = ctx->input(3);
    const Tensor& dy = ctx->input(4);
    ConvGeometry g;
    OP_REQUIRES_OK(ctx, Geometry(input.shape(), kernel_shape, indptr, indices, &g));
    OP_REQUIRES_OK(ctx, CheckOutBackprop(g, dy));
    OP_REQUIRES_OK(ctx, Validate(ctx, g, indptr, indices));
    Tensor* dk = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, kernel_shape, &dk));
    SparseChannelConv2DBackpropKernelFunctor<gpu::Stream, T>()(
        StreamOf(ctx), g, input.flat<T>().data(), indptr.flat<int32_t>().data(),
        indices.flat<int32_t>().data(), dy.flat<T>().data(), dk->flat<T>().data());
    OP_REQUIRES_OK(ctx, LaunchStatus());
  }
};

#define TF_PE_REGISTER_GPU(T)                                                              \
  REGISTER_KERNEL_BUILDER(                                                                \
      Name("TfPe>SparseChannelConv2D").Device(DEVICE_GPU).TypeConstraint<T>("T"),          \
      GpuForwardOp<T>);                                                                   \
  REGISTER_KERNEL_BUILDER(Name("TfPe>SparseChannelConv2DBackpropInput")                   \
                              .Device(DEVICE_GPU)                                         \
                              .TypeConstraint<T>("T")                                     \
                              .HostMemory("input_sizes"),                                 \
                          GpuBackpropInputOp<T>);                                         \
  REGISTER_KERNEL_BUILDER(Name("TfPe>SparseChannelConv2DBackpropKernel")                  \
                              .Device(DEVICE_GPU)                                         \
                              .TypeConstraint<T>("T")                                     \
                              .HostMemory("kernel_sizes"),                                \
                          GpuBackpropKernelOp<T>);

TF_PE_REGISTER_GPU(float)
TF_PE_REGISTER_GPU(double)

}  // namespace
}  // namespace tf_pe

#endif  // GOOGLE_CUDA
