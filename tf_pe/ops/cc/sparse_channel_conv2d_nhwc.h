// NHWC CPU kernels of TfPe>SparseChannelConv2D that vectorize over destination
// channels: no transposes of the activations, no im2col.
//
// A plan group (destination channels that read the same source channels, e.g. one
// block of the "block" pattern) is a dense GEMM on gathered channels:
//   dst[p, D] = sum_{tap, c in S} src[p + tap, c] * W[tap, c, D],
// computed directly on the NHWC tensors: a register block of RP destination pixels x
// NJ vectors of destination channels accumulates broadcast source values times
// weight vectors. The kernel gradient is the blocked outer product
//   dW[tap, c, D] = sum_p src[p + tap, c] * dy[p, D]
// with RK source channels x NJ vectors of D held in registers over all pixels.
// Lanes past |D| are wasted, so these kernels pay off when groups are wide
// (`NhwcLaneUse`); the caller picks them by that measure.
#ifndef TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_NHWC_H_
#define TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_NHWC_H_

#include "sparse_channel_conv2d_plan.h"

namespace tf_pe {

// Useful fraction of the vector lanes the NHWC kernels would compute for `g`
// (destination channels of all groups / lanes spent on them), for element size
// `bytes`. 1.0 for groups whose widths are multiples of the vector width.
double NhwcLaneUse(const Gathered& g, int bytes);

// dst (NHWC) = the gathered convolution of src (NHWC) by the compact kernel:
// the forward pass (g.transposed false) or the input gradient (true).
template <typename T>
void NhwcConv(const CPUDevice& d, const Gathered& g, const T* kernel, const T* src, T* dst);

// grad[pos] (compact kernel layout, zero-filled by the caller) = the kernel
// gradient of the forward plan `g` from the input x and out_backprop dy (NHWC).
template <typename T>
void NhwcKernelGrad(const CPUDevice& d, const Gathered& g, const T* x, const T* dy, T* grad);

}  // namespace tf_pe

#endif  // TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_NHWC_H_
