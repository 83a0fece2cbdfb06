// Channel-sparse 2-D convolution (Changpinyo et al. 2017, "sparse random"): functor
// declarations shared by the CPU (.cc) and CUDA (.cu.cc) kernels.
//
// Compact connection structure (CSR over output channels):
//   indptr  int32 [filters + 1]: the connections of output channel j are the
//           positions indptr[j] .. indptr[j+1]-1 (indptr[0] == 0, non-decreasing);
//   indices int32 [nnz]: the input channel of each connection, strictly increasing
//           within an output channel;
//   kernel  T [kh, kw, nnz]: the kh x kw filter slice of each connection.
// The dense equivalent is W[s, t, indices[p], j] = kernel[s, t, p] for p in row j,
// zero elsewhere; y = conv2d(x, W) (NHWC, SAME/VALID, strides, dilations).
#ifndef TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_H_
#define TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_H_

#include <cstdint>

namespace tf_pe {

// Geometry of one convolution; all sizes are int64 (validated by the op).
struct ConvGeometry {
  int64_t batch = 0, in_rows = 0, in_cols = 0, in_depth = 0;
  int64_t out_rows = 0, out_cols = 0, out_depth = 0;
  int64_t filter_rows = 0, filter_cols = 0;
  int64_t stride_rows = 1, stride_cols = 1, dilation_rows = 1, dilation_cols = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t nnz = 0;
};

// Forward: out[n, oh, ow, j] = sum_{s, t, p in row j}
//   in[n, oh*sr + s*dr - pad_top, ow*sc + t*dc - pad_left, indices[p]] * kernel[s, t, p].
// Out-of-range input positions contribute zero.
template <typename Device, typename T>
struct SparseChannelConv2DFunctor {
  void operator()(const Device& d, const ConvGeometry& g, const T* input, const T* kernel,
                  const int32_t* indptr, const int32_t* indices, T* output);
};

}  // namespace tf_pe

#endif  // TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_H_
