// The gathered-convolution plan shared by the CPU kernels of TfPe>SparseChannelConv2D
// (sparse_channel_conv2d_op.cc: channel-plane kernels; sparse_channel_conv2d_nhwc.cc:
// NHWC kernels vectorized over destination channels), and the thread-pool sharding.
#ifndef TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_PLAN_H_
#define TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_PLAN_H_

#define EIGEN_USE_THREADS

#include <algorithm>
#include <cstdint>
#include <vector>

#include "unsupported/Eigen/CXX11/Tensor"

namespace tf_pe {

typedef Eigen::ThreadPoolDevice CPUDevice;

// A gathered convolution: destination pixels (batch, dst_rows, dst_cols) from
// source pixels (batch, src_rows, src_cols, src_depth). Forward mapping:
// src = dst * stride + tap * dilation - pad; transposed mapping (input gradient):
// dst = src * stride + tap * dilation - pad, solved for src.
struct Gathered {
  int64_t batch, src_rows, src_cols, src_depth, dst_rows, dst_cols, dst_depth;
  int64_t kh, kw, sr, sc, dr, dc, pad_top, pad_left;
  bool transposed;
  std::vector<int32_t> used;  // source channels read, im2col row order
  struct Group {
    std::vector<int32_t> rows;  // K = kh*kw*|set| im2col rows, order (s, t, u)
    std::vector<int32_t> dst;   // destination channels
    std::vector<int64_t> wpos;  // [|dst|][K]: positions into the compact kernel
  };
  std::vector<Group> groups;
  bool covers_dst = false;  // every destination channel is in some group
};

// Runs fn(first, end) over `shards` contiguous ranges of [0, tiles) on the pool
// (default: about 4 ranges per thread).
template <typename Fn>
void ShardTiles(const CPUDevice& d, int64_t tiles, Fn fn, int64_t shards = 0) {
  if (shards <= 0) shards = 4 * d.numThreads();
  shards = std::max<int64_t>(1, std::min<int64_t>(tiles, shards));
  d.parallelFor(shards, Eigen::TensorOpCost(0, 0, 1e9), [&](Eigen::Index b, Eigen::Index e) {
    for (Eigen::Index sh = b; sh < e; ++sh) fn(tiles * sh / shards, tiles * (sh + 1) / shards);
  });
}

}  // namespace tf_pe

#endif  // TF_PE_OPS_CC_SPARSE_CHANNEL_CONV2D_PLAN_H_
