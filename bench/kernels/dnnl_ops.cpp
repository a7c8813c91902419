#include "dnnl_ops.hpp"

#include <cstring>
#include <stdexcept>

namespace sibp::kernels {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpu_stream() {
  // One per thread: primitives of different sub-batches run concurrently on
  // a ThreadPool, and a stream is not meant to be shared between threads.
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

DnnlPort::DnnlPort(const memory::desc& user, const memory::desc& internal)
    : user_(user, cpu_engine(), DNNL_MEMORY_NONE), alias_(user == internal) {
  if (alias_) {
    internal_ = memory(internal, cpu_engine(), DNNL_MEMORY_NONE);
  } else {
    internal_ = memory(internal, cpu_engine());
    to_internal_.emplace(user_, internal_);
    to_user_.emplace(internal_, user_);
  }
}

void DnnlPort::in(const float* user) {
  user_.set_data_handle(const_cast<float*>(user));
  if (alias_) {
    internal_.set_data_handle(const_cast<float*>(user));
  } else {
    to_internal_->execute(cpu_stream(), user_, internal_);
    cpu_stream().wait();
  }
}

void DnnlPort::bind_out(float* user) {
  user_.set_data_handle(user);
  if (alias_) internal_.set_data_handle(user);
}

void DnnlPort::out() {
  if (alias_) return;
  to_user_->execute(cpu_stream(), internal_, user_);
  cpu_stream().wait();
}

namespace {

dt type_of(DnnlType t) { return t == DnnlType::F32 ? dt::f32 : dt::bf16; }

memory::desc act(Index m, Index c, Index h, Index w, dt type, DnnlLayout layout) {
  return memory::desc({m, c, h, w}, type, layout == DnnlLayout::Any ? tag::any : tag::nhwc);
}

memory::desc user_act(Index m, Index c, Index h, Index w) { return memory::desc({m, c, h, w}, dt::f32, tag::nhwc); }

}  // namespace

DnnlConv::DnnlConv(const ConvShape& s, Index m, DnnlType type, DnnlLayout layout, bool backward)
    : s_(s), m_(m), backward_(backward) {
  s.validate();
  auto& eng = cpu_engine();
  const dt low = type_of(type);
  const memory::dims strides{s.stride, s.stride}, pad{s.pad, s.pad};
  const Index ho = s.h_out(), wo = s.w_out();
  const memory::desc src_md = act(m, s.c_in, s.h, s.w, low, layout);
  const memory::desc dst_md = act(m, s.c_out, ho, wo, dt::f32, layout);   // f32 out, as autocast's accumulation
  const memory::desc diff_dst_md = act(m, s.c_out, ho, wo, low, layout);
  const memory::desc diff_src_md = act(m, s.c_in, s.h, s.w, dt::f32, layout);
  const memory::desc wei_md({s.c_out, s.c_in, s.kh, s.kw}, low, tag::any);
  const memory::desc diff_wei_md({s.c_out, s.c_in, s.kh, s.kw}, dt::f32, tag::any);
  const memory::desc bias_md({s.c_out}, dt::f32, tag::x);

  fwd_pd_ = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_md,
                                      wei_md, bias_md, dst_md, strides, pad, pad),
      eng);
  fwd_.emplace(fwd_pd_);
  const memory::desc user_wei({s.c_out, s.c_in, s.kh, s.kw}, dt::f32, tag::ihwo);  // K̄ column-major
  src_ = DnnlPort(user_act(m, s.c_in, s.h, s.w), fwd_pd_.src_desc());
  weights_ = DnnlPort(user_wei, fwd_pd_.weights_desc());
  dst_ = DnnlPort(user_act(m, s.c_out, ho, wo), fwd_pd_.dst_desc());
  bias_ = memory(fwd_pd_.bias_desc(), eng, DNNL_MEMORY_NONE);
  if (!backward) return;

  bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(
      dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, diff_src_md, wei_md, diff_dst_md,
                                            strides, pad, pad),
      eng, fwd_pd_);
  bwd_data_.emplace(bwd_data_pd_);
  bwd_w_pd_ = dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_md, diff_wei_md, bias_md,
                                               diff_dst_md, strides, pad, pad),
      eng, fwd_pd_);
  bwd_w_.emplace(bwd_w_pd_);
  if (bwd_w_pd_.src_desc() != fwd_pd_.src_desc())
    throw std::runtime_error("DnnlConv: backward-weights wants another src layout than forward (not handled)");
  diff_dst_data_ = DnnlPort(user_act(m, s.c_out, ho, wo), bwd_data_pd_.diff_dst_desc());
  diff_dst_w_ = DnnlPort(user_act(m, s.c_out, ho, wo), bwd_w_pd_.diff_dst_desc());
  diff_src_ = DnnlPort(user_act(m, s.c_in, s.h, s.w), bwd_data_pd_.diff_src_desc());
  diff_weights_ = DnnlPort(user_wei, bwd_w_pd_.diff_weights_desc());
  diff_bias_ = memory(bwd_w_pd_.diff_bias_desc(), eng);
  weights_bwd_ = memory(bwd_data_pd_.weights_desc(), eng);
  if (bwd_data_pd_.weights_desc() != fwd_pd_.weights_desc())
    weights_to_bwd_.emplace(weights_.mem(), weights_bwd_);
}

void DnnlConv::in_weights(const float* K, const float* b) {
  weights_.in(K);
  bias_.set_data_handle(const_cast<float*>(b));
  if (backward_) {
    if (weights_to_bwd_) {
      weights_to_bwd_->execute(cpu_stream(), weights_.mem(), weights_bwd_);
      cpu_stream().wait();
    } else {
      weights_bwd_ = weights_.mem();
    }
  }
}

void DnnlConv::forward(float* G) {
  dst_.bind_out(G);
  fwd_->execute(cpu_stream(), {{DNNL_ARG_SRC, src_.mem()},
                                {DNNL_ARG_WEIGHTS, weights_.mem()},
                                {DNNL_ARG_BIAS, bias_},
                                {DNNL_ARG_DST, dst_.mem()}});
  cpu_stream().wait();
}

void DnnlConv::in_diff_dst(const float* dG) {
  diff_dst_data_.in(dG);
  diff_dst_w_.in(dG);
}

void DnnlConv::backward_data(float* dX) {
  diff_src_.bind_out(dX);
  bwd_data_->execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, diff_dst_data_.mem()},
                                     {DNNL_ARG_WEIGHTS, weights_bwd_},
                                     {DNNL_ARG_DIFF_SRC, diff_src_.mem()}});
  cpu_stream().wait();
}

void DnnlConv::backward_weights(float* dK, float* db) {
  diff_weights_.bind_out(dK);
  diff_out_bias_ = db;
  bwd_w_->execute(cpu_stream(), {{DNNL_ARG_SRC, src_.mem()},
                                  {DNNL_ARG_DIFF_DST, diff_dst_w_.mem()},
                                  {DNNL_ARG_DIFF_WEIGHTS, diff_weights_.mem()},
                                  {DNNL_ARG_DIFF_BIAS, diff_bias_}});
  cpu_stream().wait();
}

void DnnlConv::out_diff_weights() {
  diff_weights_.out();
  std::memcpy(diff_out_bias_, diff_bias_.get_data_handle(), sizeof(float) * s_.c_out);
}

std::string DnnlConv::impl_info() const {
  std::string r = "fwd=" + std::string(fwd_pd_.impl_info_str());
  if (backward_)
    r += " bwd_data=" + std::string(bwd_data_pd_.impl_info_str()) +
         " bwd_weights=" + std::string(bwd_w_pd_.impl_info_str());
  return r;
}

DnnlMaxPool::DnnlMaxPool(Index C, Index m, Index H, Index W, const memory::desc& src_md) {
  auto& eng = cpu_engine();
  const memory::dims k{2, 2}, st{2, 2}, pad{0, 0};
  const memory::desc dst_md({m, C, H / 2, W / 2}, src_md.data_type(), tag::any);
  fwd_pd_ = dnnl::pooling_forward::primitive_desc(
      dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max, src_md, dst_md, st,
                                  k, pad, pad),
      eng);
  fwd_.emplace(fwd_pd_);
  dst_ = memory(fwd_pd_.dst_desc(), eng);
  ws_ = memory(fwd_pd_.workspace_desc(), eng);
  bwd_pd_ = dnnl::pooling_backward::primitive_desc(
      dnnl::pooling_backward::desc(dnnl::algorithm::pooling_max, src_md, fwd_pd_.dst_desc(), st, k, pad, pad), eng,
      fwd_pd_);
  bwd_.emplace(bwd_pd_);
  diff_src_ = memory(bwd_pd_.diff_src_desc(), eng);
}

void DnnlMaxPool::forward(memory& src) {
  fwd_->execute(cpu_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_WORKSPACE, ws_}});
  cpu_stream().wait();
}

void DnnlMaxPool::backward(memory& diff_dst) {
  bwd_->execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WORKSPACE, ws_}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  cpu_stream().wait();
}

std::string DnnlMaxPool::impl_info() const {
  return "fwd=" + std::string(fwd_pd_.impl_info_str()) + " bwd=" + std::string(bwd_pd_.impl_info_str());
}

DnnlMatmul::DnnlMatmul(Index M, Index N, Index K, Op opA, Op opB, DnnlType type) {
  // Column-major C (M×N) is row-major Cᵀ (N×M) = op(B)ᵀ·op(A)ᵀ: oneDNN's src is
  // op(B)ᵀ (N×K) and its weights op(A)ᵀ (K×M), both read in place by strides.
  const memory::dims src_strides = opB == Op::N ? memory::dims{K, 1} : memory::dims{1, N};
  const memory::dims wei_strides = opA == Op::N ? memory::dims{M, 1} : memory::dims{1, K};
  const dt low = type_of(type);
  const memory::desc src_user({N, K}, dt::f32, src_strides), wei_user({K, M}, dt::f32, wei_strides);
  const memory::desc src_md({N, K}, low, src_strides), wei_md({K, M}, low, wei_strides);
  const memory::desc dst_md({N, M}, dt::f32, memory::dims{M, 1});
  pd_ = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, wei_md, dst_md), cpu_engine());
  mm_.emplace(pd_);
  b_ = DnnlPort(src_user, src_md);
  a_ = DnnlPort(wei_user, wei_md);
  c_ = memory(dst_md, cpu_engine(), DNNL_MEMORY_NONE);
}

void DnnlMatmul::run(float* C) {
  c_.set_data_handle(C);
  mm_->execute(cpu_stream(), {{DNNL_ARG_SRC, b_.mem()}, {DNNL_ARG_WEIGHTS, a_.mem()}, {DNNL_ARG_DST, c_}});
  cpu_stream().wait();
}

std::string DnnlMatmul::impl_info() const { return pd_.impl_info_str(); }

}  // namespace sibp::kernels
