// Standalone harness for the CUDA kernels of TfPe>SparseChannelConv2D (no TensorFlow).
//
// Draws random problems (shapes, strides, SAME/VALID, dilations, random/block/dense
// connection patterns, empty rows, zero-size dimensions) and compares the forward
// pass, the input gradient and the kernel gradient with the dense reference of
// reference.h, in float and double, plus the device-side validation of the
// connection structure on corrupted copies.
//
//   --mode=host  runs the per-thread functions of sparse_channel_conv2d_gpu.h on the
//                host, thread by thread (an emulated launch, the same indexing code
//                as the kernels); compiles with g++ or nvcc.
//   --mode=gpu   runs the real kernels (nvcc build only); exit status 77 when no
//                CUDA device is usable.
//   --problems=N (default 200), --seed=S (default 0).
//
// Build (see tests/ops/test_cuda_harness.py):
//   nvcc -std=c++17 -DGOOGLE_CUDA=1 -Itf_pe/ops/cc -x cu tf_pe/ops/cuda/harness.cu.cc
//        tf_pe/ops/cc/sparse_channel_conv2d_gpu.cu.cc -o harness
//   g++ -std=c++17 -Itf_pe/ops/cc -x c++ tf_pe/ops/cuda/harness.cu.cc -o harness_host
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "reference.h"
#include "sparse_channel_conv2d_gpu.h"

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace tf_pe {
namespace harness {

using reference::Problem;

struct Case {
  Problem problem;
  ConvGeometry geo;
  std::string pattern;
};

int64_t Uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {  // in [lo, hi]
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) / 9007199254740992.0; }

// The CSR structure of a random, block or dense connection pattern.
void Connect(std::mt19937_64& rng, const std::string& pattern, Problem* p) {
  const double density = 0.05 + 0.9 * Unit(rng);
  const int64_t blocks = Uniform(rng, 1, std::max<int64_t>(1, std::min(p->in_depth, p->out_depth)));
  p->indptr.assign(1, 0);
  p->indices.clear();
  for (int64_t j = 0; j < p->out_depth; ++j) {
    for (int64_t c = 0; c < p->in_depth; ++c) {
      bool on = true;
      if (pattern == "random") on = Unit(rng) < density;
      if (pattern == "block") on = c * blocks / p->in_depth == j * blocks / p->out_depth;
      if (on) p->indices.push_back(static_cast<int32_t>(c));
    }
    p->indptr.push_back(static_cast<int32_t>(p->indices.size()));
  }
}

Case RandomCase(std::mt19937_64& rng) {
  static const char* kPatterns[] = {"random", "block", "dense"};
  Case k;
  Problem& p = k.problem;
  p.batch = Unit(rng) < 0.05 ? 0 : Uniform(rng, 1, 3);
  p.rows = Uniform(rng, 1, 9);
  p.cols = Uniform(rng, 1, 9);
  p.in_depth = Uniform(rng, 1, 12);
  p.out_depth = Unit(rng) < 0.05 ? 0 : Uniform(rng, 1, 12);
  p.filter_rows = Uniform(rng, 1, 3);
  p.filter_cols = Uniform(rng, 1, 3);
  p.stride_rows = Uniform(rng, 1, 3);
  p.stride_cols = Uniform(rng, 1, 3);
  p.dilation_rows = Uniform(rng, 1, 2);
  p.dilation_cols = Uniform(rng, 1, 2);
  p.padding = Unit(rng) < 0.5 ? "SAME" : "VALID";
  k.pattern = kPatterns[Uniform(rng, 0, 2)];
  Connect(rng, k.pattern, &p);
  const reference::DenseConv conv(p);
  ConvGeometry& g = k.geo;
  g.batch = p.batch;
  g.in_rows = p.rows;
  g.in_cols = p.cols;
  g.in_depth = p.in_depth;
  g.out_rows = conv.out_rows();
  g.out_cols = conv.out_cols();
  g.out_depth = p.out_depth;
  g.filter_rows = p.filter_rows;
  g.filter_cols = p.filter_cols;
  g.stride_rows = p.stride_rows;
  g.stride_cols = p.stride_cols;
  g.dilation_rows = p.dilation_rows;
  g.dilation_cols = p.dilation_cols;
  g.pad_top = conv.pad_top();
  g.pad_left = conv.pad_left();
  g.nnz = static_cast<int64_t>(p.indices.size());
  return k;
}

template <typename T>
std::vector<T> Normal(std::mt19937_64& rng, int64_t size) {
  std::normal_distribution<double> normal;
  std::vector<T> v(size);
  for (T& e : v) e = static_cast<T>(normal(rng));
  return v;
}

template <typename T>
struct Tensors {
  std::vector<T> x, kernel, dy;
};

template <typename T>
struct Results {
  std::vector<T> y, dx, dk;
};

// An emulated launch: `threads` threads of a grid-stride loop, run one by one.
constexpr int64_t kEmulatedThreads = 37;

template <typename T>
Results<T> Emulate(const Case& k, const Tensors<T>& in) {
  const ConvGeometry& g = k.geo;
  const int32_t* indptr = k.problem.indptr.data();
  const int32_t* indices = k.problem.indices.data();
  Results<T> r{std::vector<T>(gpu::OutputElements(g)), std::vector<T>(gpu::InputElements(g)),
               std::vector<T>(gpu::KernelElements(g))};
  for (int64_t tid = 0; tid < kEmulatedThreads; ++tid)
    gpu::ForwardThread(g, in.x.data(), in.kernel.data(), indptr, indices, r.y.data(), tid,
                       kEmulatedThreads);
  std::vector<int32_t> work(gpu::ColumnWorkspaceSize(g));
  int32_t* col_ptr = work.data();
  int32_t* col_out = col_ptr + g.in_depth + 1;
  int32_t* col_pos = col_out + g.nnz;
  for (int64_t tid = 0; tid < kEmulatedThreads; ++tid)
    gpu::CountColumnsThread(g, indptr, indices, col_ptr, tid, kEmulatedThreads);
  gpu::ScanColumnsThread(g, col_ptr, 0);
  for (int64_t tid = 0; tid < kEmulatedThreads; ++tid)
    gpu::FillColumnsThread(g, indptr, indices, col_ptr, col_out, col_pos, tid, kEmulatedThreads);
  for (int64_t tid = 0; tid < kEmulatedThreads; ++tid)
    gpu::BackpropInputThread(g, in.kernel.data(), col_ptr, col_out, col_pos, in.dy.data(),
                             r.dx.data(), tid, kEmulatedThreads);
  // One block per element: kBlock lanes, then the kernel's fixed-order tree.
  std::vector<T> partial(gpu::kBlock);
  for (int64_t e = 0; e < gpu::KernelElements(g); ++e) {
    for (int lane = 0; lane < gpu::kBlock; ++lane)
      partial[lane] = gpu::BackpropKernelPartial(g, in.x.data(), indptr, indices, in.dy.data(), e,
                                                 lane, gpu::kBlock);
    for (int half = gpu::kBlock / 2; half > 0; half /= 2)
      for (int lane = 0; lane < half; ++lane) partial[lane] += partial[lane + half];
    r.dk[e] = partial[0];
  }
  return r;
}

// {error code, first bad row} of a structure, as the device validation reports it.
using Validator = std::function<std::pair<int32_t, int32_t>(
    const ConvGeometry&, const std::vector<int32_t>&, const std::vector<int32_t>&)>;

std::pair<int32_t, int32_t> ValidateOnHost(const ConvGeometry& g, const std::vector<int32_t>& indptr,
                                           const std::vector<int32_t>& indices) {
  int32_t status[2] = {gpu::kOk, INT32_MAX};
  for (int64_t tid = 0; tid < kEmulatedThreads; ++tid)
    gpu::ValidateRowsThread(g, indptr.data(), indices.data(), status, tid, kEmulatedThreads);
  return {status[0], status[1]};
}

#if defined(__CUDACC__)
bool Check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return true;
  std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(status));
  return false;
}

template <typename V>
typename V::value_type* ToDevice(const V& host) {
  typename V::value_type* ptr = nullptr;
  const size_t bytes = std::max<size_t>(1, host.size()) * sizeof(typename V::value_type);
  if (!Check(cudaMalloc(&ptr, bytes), "cudaMalloc")) std::exit(1);
  if (!host.empty()) cudaMemcpy(ptr, host.data(), host.size() * sizeof(host[0]),
                                cudaMemcpyHostToDevice);
  return ptr;
}

template <typename V>
void ToHost(const typename V::value_type* device, V* host) {
  if (!host->empty()) cudaMemcpy(host->data(), device, host->size() * sizeof((*host)[0]),
                                 cudaMemcpyDeviceToHost);
}

template <typename T>
Results<T> RunOnGpu(const Case& k, const Tensors<T>& in) {
  const ConvGeometry& g = k.geo;
  Results<T> r{std::vector<T>(gpu::OutputElements(g)), std::vector<T>(gpu::InputElements(g)),
               std::vector<T>(gpu::KernelElements(g))};
  cudaStream_t stream;
  if (!Check(cudaStreamCreate(&stream), "cudaStreamCreate")) std::exit(1);
  const gpu::Stream d{stream};
  int32_t* indptr = ToDevice(k.problem.indptr);
  int32_t* indices = ToDevice(k.problem.indices);
  T* x = ToDevice(in.x);
  T* kernel = ToDevice(in.kernel);
  T* dy = ToDevice(in.dy);
  T* y = ToDevice(r.y);
  T* dx = ToDevice(r.dx);
  T* dk = ToDevice(r.dk);
  int32_t* work = ToDevice(std::vector<int32_t>(gpu::ColumnWorkspaceSize(g)));
  SparseChannelConv2DFunctor<gpu::Stream, T>()(d, g, x, kernel, indptr, indices, y);
  SparseChannelConv2DBackpropInputFunctor<gpu::Stream, T>()(d, g, kernel, indptr, indices, dy,
                                                            work, dx);
  SparseChannelConv2DBackpropKernelFunctor<gpu::Stream, T>()(d, g, x, indptr, indices, dy, dk);
  if (!Check(cudaGetLastError(), "kernel launch") ||
      !Check(cudaStreamSynchronize(stream), "kernels")) {
    std::exit(1);
  }
  ToHost(y, &r.y);
  ToHost(dx, &r.dx);
  ToHost(dk, &r.dk);
  for (void* ptr : {static_cast<void*>(indptr), static_cast<void*>(indices), static_cast<void*>(x),
                    static_cast<void*>(kernel), static_cast<void*>(dy), static_cast<void*>(y),
                    static_cast<void*>(dx), static_cast<void*>(dk), static_cast<void*>(work)}) {
    cudaFree(ptr);
  }
  cudaStreamDestroy(stream);
  return r;
}

std::pair<int32_t, int32_t> ValidateOnGpu(const ConvGeometry& g, const std::vector<int32_t>& indptr,
                                          const std::vector<int32_t>& indices) {
  int32_t* d_indptr = ToDevice(indptr);
  int32_t* d_indices = ToDevice(indices);
  int32_t* d_status = ToDevice(std::vector<int32_t>(2));
  ValidateConnectionsFunctor<gpu::Stream>()(gpu::Stream{nullptr}, g, d_indptr, d_indices,
                                            d_status);
  std::vector<int32_t> status(2);
  if (!Check(cudaDeviceSynchronize(), "validation")) std::exit(1);
  ToHost(d_status, &status);
  cudaFree(d_indptr);
  cudaFree(d_indices);
  cudaFree(d_status);
  return {status[0], status[1]};
}
#endif  // __CUDACC__

// Largest |got - want| / (1 + |want|) over the elements.
template <typename T>
double Error(const std::vector<T>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - want[i]) / (1.0 + std::fabs(want[i]));
    if (!(e <= worst)) worst = e;  // NaN propagates as a failure
  }
  return worst;
}

struct Tally {
  const char* name;
  double tolerance;
  double worst = 0.0;
  int failures = 0;
  void Add(double error, const Case& k, int index) {
    if (!(error <= worst)) worst = error;
    if (error <= tolerance) return;
    ++failures;
    const Problem& p = k.problem;
    std::printf("FAIL %s problem %d: error %.3g; x [%ld,%ld,%ld,%ld] -> %ld, kernel %ldx%ld, "
                "strides %ld,%ld, dilations %ld,%ld, %s, %s, nnz %ld\n",
                name, index, error, static_cast<long>(p.batch), static_cast<long>(p.rows),
                static_cast<long>(p.cols), static_cast<long>(p.in_depth),
                static_cast<long>(p.out_depth), static_cast<long>(p.filter_rows),
                static_cast<long>(p.filter_cols), static_cast<long>(p.stride_rows),
                static_cast<long>(p.stride_cols), static_cast<long>(p.dilation_rows),
                static_cast<long>(p.dilation_cols), p.padding.c_str(), k.pattern.c_str(),
                static_cast<long>(k.geo.nnz));
  }
};

template <typename T>
int CompareAll(const std::string& mode, const char* type, double tolerance, int problems,
               uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::string prefix = mode + " " + type + " ";
  Tally forward{"forward", tolerance}, input{"input gradient", tolerance},
      kernel{"kernel gradient", tolerance};
  for (int i = 0; i < problems; ++i) {
    const Case k = RandomCase(rng);
    const ConvGeometry& g = k.geo;
    Tensors<T> in{Normal<T>(rng, gpu::InputElements(g)), Normal<T>(rng, gpu::KernelElements(g)),
                  Normal<T>(rng, gpu::OutputElements(g))};
    Results<T> got;
#if defined(__CUDACC__)
    got = mode == "gpu" ? RunOnGpu(k, in) : Emulate(k, in);
#else
    got = Emulate(k, in);
#endif
    const reference::DenseConv conv(k.problem);
    forward.Add(Error(got.y, conv.Forward(in.x, in.kernel)), k, i);
    input.Add(Error(got.dx, conv.BackpropInput(in.kernel, in.dy)), k, i);
    kernel.Add(Error(got.dk, conv.BackpropKernel(in.x, in.dy)), k, i);
  }
  int failures = 0;
  for (const Tally* t : {&forward, &input, &kernel}) {
    std::printf("%s%s: %d problems, max error %.3g (tolerance %.0e), %d failed\n", prefix.c_str(),
                t->name, problems, t->worst, t->tolerance, t->failures);
    failures += t->failures;
  }
  return failures;
}

// Corrupts valid structures in four ways and checks the reported {code, row}.
int CheckValidation(const std::string& mode, const Validator& validate, int problems,
                    uint64_t seed) {
  std::mt19937_64 rng(seed);
  int checks = 0, failures = 0;
  auto expect = [&](const ConvGeometry& g, const std::vector<int32_t>& indptr,
                    const std::vector<int32_t>& indices, int32_t code, int32_t row) {
    const auto got = validate(g, indptr, indices);
    ++checks;
    if (got.first == code && got.second == row) return;
    ++failures;
    std::printf("FAIL validation: expected code %d row %d, got code %d row %d\n", code, row,
                got.first, got.second);
  };
  for (int i = 0; i < problems; ++i) {
    const Case k = RandomCase(rng);
    const ConvGeometry& g = k.geo;
    const std::vector<int32_t>& indptr = k.problem.indptr;
    const std::vector<int32_t>& indices = k.problem.indices;
    expect(g, indptr, indices, gpu::kOk, INT32_MAX);
    const int32_t last = static_cast<int32_t>(gpu::ValidatedRows(g) - 1);
    std::vector<int32_t> bad_end = indptr;
    bad_end.back() += 1;  // with no output channel, indptr[0] is also the start
    expect(g, bad_end, indices, g.out_depth == 0 ? gpu::kIndptrStart : gpu::kIndptrEnd, last);
    if (g.out_depth == 0 || g.nnz == 0) continue;
    std::vector<int32_t> bad_start = indptr;
    bad_start[0] = 1;
    expect(g, bad_start, indices, gpu::kIndptrStart, 0);
    const int64_t q = Uniform(rng, 0, g.nnz - 1);
    const int32_t row = static_cast<int32_t>(gpu::RowOf(indptr.data(), g.out_depth, q));
    std::vector<int32_t> bad_index = indices;
    bad_index[q] = Unit(rng) < 0.5 ? -1 : static_cast<int32_t>(g.in_depth);
    expect(g, indptr, bad_index, gpu::kIndexRange, row);
    if (indptr[row + 1] - indptr[row] >= 2) {
      std::vector<int32_t> swapped = indices;
      std::swap(swapped[indptr[row]], swapped[indptr[row] + 1]);
      expect(g, indptr, swapped, gpu::kIndexOrder, row);
    }
  }
  std::printf("%s validation: %d checks, %d failed\n", mode.c_str(), checks, failures);
  return failures;
}

int Main(int argc, char** argv) {
  std::string mode = "host";
  int problems = 200;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--mode=", 0) == 0) {
      mode = arg.substr(7);
    } else if (arg.rfind("--problems=", 0) == 0) {
      problems = std::stoi(arg.substr(11));
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = std::stoull(arg.substr(7));
    } else {
      std::fprintf(stderr, "unknown argument %s (--mode=host|gpu --problems=N --seed=S)\n",
                   argv[i]);
      return 2;
    }
  }
  Validator validate = ValidateOnHost;
  if (mode == "gpu") {
#if defined(__CUDACC__)
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
      std::printf("SKIP: no usable CUDA device (%s)\n",
                  status == cudaSuccess ? "0 devices" : cudaGetErrorString(status));
      return 77;
    }
    validate = ValidateOnGpu;
#else
    std::printf("SKIP: built without nvcc, --mode=gpu needs the nvcc build\n");
    return 77;
#endif
  } else if (mode != "host") {
    std::fprintf(stderr, "--mode must be host or gpu, got %s\n", mode.c_str());
    return 2;
  }
  int failures = CompareAll<float>(mode, "float", 1e-4, problems, seed);
  failures += CompareAll<double>(mode, "double", 1e-10, problems, seed);
  failures += CheckValidation(mode, validate, problems, seed);
  std::printf(failures == 0 ? "PASS\n" : "FAIL: %d\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace harness
}  // namespace tf_pe

int main(int argc, char** argv) { return tf_pe::harness::Main(argc, argv); }
