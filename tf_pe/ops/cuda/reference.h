// A plain C++ reference for the harness: the channel-sparse convolution written as
// the dense convolution it equals (Changpinyo et al. 2017): the compact structure is
// expanded to a dense kernel W[s][t][c][j] (zero where not connected) and the three
// results are computed by the textbook loops over every output position, in double.
// It shares no code with sparse_channel_conv2d_gpu.h: the input gradient is a scatter
// (the GPU code gathers) and the kernel gradient is dense, then read at the
// connections. Slow by design; for small problems only.
#ifndef TF_PE_OPS_CUDA_REFERENCE_H_
#define TF_PE_OPS_CUDA_REFERENCE_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace tf_pe {
namespace reference {

// A problem in TensorFlow's terms (tf.nn.conv2d, NHWC) plus the CSR structure.
struct Problem {
  int64_t batch, rows, cols, in_depth, out_depth, filter_rows, filter_cols;
  int64_t stride_rows, stride_cols, dilation_rows, dilation_cols;
  std::string padding;            // "SAME" or "VALID"
  std::vector<int32_t> indptr;    // [out_depth + 1]
  std::vector<int32_t> indices;   // [nnz]
};

// tf.nn.conv2d's output size and leading padding along one dimension.
inline void OutputSize(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                       const std::string& padding, int64_t* out, int64_t* pad_before) {
  const int64_t effective = (k - 1) * dilation + 1;
  if (padding == "VALID") {
    *out = in >= effective ? (in - effective) / stride + 1 : 0;
    *pad_before = 0;
  } else {
    *out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, (*out - 1) * stride + effective - in);
    *pad_before = total / 2;
  }
}

class DenseConv {
 public:
  explicit DenseConv(const Problem& p) : p_(p) {
    OutputSize(p.rows, p.filter_rows, p.stride_rows, p.dilation_rows, p.padding, &out_rows_,
               &pad_top_);
    OutputSize(p.cols, p.filter_cols, p.stride_cols, p.dilation_cols, p.padding, &out_cols_,
               &pad_left_);
  }

  int64_t out_rows() const { return out_rows_; }
  int64_t out_cols() const { return out_cols_; }
  int64_t pad_top() const { return pad_top_; }
  int64_t pad_left() const { return pad_left_; }

  // W[s][t][c][j] from the compact kernel [kh, kw, nnz].
  template <typename T>
  std::vector<double> Dense(const std::vector<T>& kernel) const {
    const int64_t nnz = p_.indices.size();
    std::vector<double> w(p_.filter_rows * p_.filter_cols * p_.in_depth * p_.out_depth, 0.0);
    for (int64_t j = 0; j < p_.out_depth; ++j)
      for (int32_t q = p_.indptr[j]; q < p_.indptr[j + 1]; ++q)
        for (int64_t tap = 0; tap < p_.filter_rows * p_.filter_cols; ++tap)
          w[(tap * p_.in_depth + p_.indices[q]) * p_.out_depth + j] = kernel[tap * nnz + q];
    return w;
  }

  template <typename T>
  std::vector<double> Forward(const std::vector<T>& x, const std::vector<T>& kernel) const {
    const std::vector<double> w = Dense(kernel);
    std::vector<double> y(p_.batch * out_rows_ * out_cols_ * p_.out_depth, 0.0);
    ForEach([&](int64_t n, int64_t oh, int64_t ow, int64_t s, int64_t t, int64_t ih, int64_t iw) {
      for (int64_t c = 0; c < p_.in_depth; ++c)
        for (int64_t j = 0; j < p_.out_depth; ++j)
          y[Out(n, oh, ow, j)] += x[In(n, ih, iw, c)] * w[Weight(s, t, c, j)];
    });
    return y;
  }

  template <typename T>
  std::vector<double> BackpropInput(const std::vector<T>& kernel, const std::vector<T>& dy) const {
    const std::vector<double> w = Dense(kernel);
    std::vector<double> dx(p_.batch * p_.rows * p_.cols * p_.in_depth, 0.0);
    ForEach([&](int64_t n, int64_t oh, int64_t ow, int64_t s, int64_t t, int64_t ih, int64_t iw) {
      for (int64_t c = 0; c < p_.in_depth; ++c)
        for (int64_t j = 0; j < p_.out_depth; ++j)
          dx[In(n, ih, iw, c)] += dy[Out(n, oh, ow, j)] * w[Weight(s, t, c, j)];
    });
    return dx;
  }

  // The compact gradient [kh, kw, nnz]: the dense gradient at the connections.
  template <typename T>
  std::vector<double> BackpropKernel(const std::vector<T>& x, const std::vector<T>& dy) const {
    std::vector<double> dw(p_.filter_rows * p_.filter_cols * p_.in_depth * p_.out_depth, 0.0);
    ForEach([&](int64_t n, int64_t oh, int64_t ow, int64_t s, int64_t t, int64_t ih, int64_t iw) {
      for (int64_t c = 0; c < p_.in_depth; ++c)
        for (int64_t j = 0; j < p_.out_depth; ++j)
          dw[Weight(s, t, c, j)] += x[In(n, ih, iw, c)] * dy[Out(n, oh, ow, j)];
    });
    const int64_t nnz = p_.indices.size();
    std::vector<double> dk(p_.filter_rows * p_.filter_cols * nnz, 0.0);
    for (int64_t j = 0; j < p_.out_depth; ++j)
      for (int32_t q = p_.indptr[j]; q < p_.indptr[j + 1]; ++q)
        for (int64_t tap = 0; tap < p_.filter_rows * p_.filter_cols; ++tap)
          dk[tap * nnz + q] = dw[(tap * p_.in_depth + p_.indices[q]) * p_.out_depth + j];
    return dk;
  }

 private:
  // Calls f(n, oh, ow, s, t, ih, iw) for every output position and kernel tap whose
  // input position lies inside the image (padding contributes zero).
  template <typename F>
  void ForEach(F f) const {
    for (int64_t n = 0; n < p_.batch; ++n)
      for (int64_t oh = 0; oh < out_rows_; ++oh)
        for (int64_t ow = 0; ow < out_cols_; ++ow)
          for (int64_t s = 0; s < p_.filter_rows; ++s)
            for (int64_t t = 0; t < p_.filter_cols; ++t) {
              const int64_t ih = oh * p_.stride_rows - pad_top_ + s * p_.dilation_rows;
              const int64_t iw = ow * p_.stride_cols - pad_left_ + t * p_.dilation_cols;
              if (ih >= 0 && ih < p_.rows && iw >= 0 && iw < p_.cols) f(n, oh, ow, s, t, ih, iw);
            }
  }

  int64_t In(int64_t n, int64_t h, int64_t w, int64_t c) const {
    return ((n * p_.rows + h) * p_.cols + w) * p_.in_depth + c;
  }
  int64_t Out(int64_t n, int64_t h, int64_t w, int64_t j) const {
    return ((n * out_rows_ + h) * out_cols_ + w) * p_.out_depth + j;
  }
  int64_t Weight(int64_t s, int64_t t, int64_t c, int64_t j) const {
    return ((s * p_.filter_cols + t) * p_.in_depth + c) * p_.out_depth + j;
  }

  const Problem& p_;
  int64_t out_rows_ = 0, out_cols_ = 0, pad_top_ = 0, pad_left_ = 0;
};

}  // namespace reference
}  // namespace tf_pe

#endif  // TF_PE_OPS_CUDA_REFERENCE_H_
