// Forward passes and gradients of conv / pool / flatten / dense networks
// against PyTorch's nn.Sequential of the same modules (ALGORITHMS.md §5):
// tests/fixtures/golden/layer_steps.json, made by
// scripts/golden/make_layer_golden.py in float64.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "golden_json.hpp"
#include "test_support.hpp"

#include "train/backprop.hpp"

namespace sibp {
namespace {

using nlohmann::json;

using testing::load_golden;
using testing::matrix_from_rows;
using testing::vector_from;

double relative(const Mat<double>& ours, const Mat<double>& theirs) {
  return (ours - theirs).norm() / theirs.norm();
}

TEST(LayerGolden, ForwardAndGradientsMatchPyTorch) {
  const json doc = load_golden("layer_steps.json");
  ASSERT_EQ(doc.at("format").get<std::string>(), "sibp-layer-golden");
  ASSERT_EQ(doc.at("format_version").get<int>(), 1);
  ASSERT_EQ(doc.at("script").get<std::string>(), "scripts/golden/make_layer_golden.py");
  ASSERT_EQ(doc.at("dtype").get<std::string>(), "float64");
  // Tolerance 1e-12 relative per tensor (Frobenius norm): both sides are
  // float64 and differ only in summation order (im2col GEMM vs PyTorch's
  // convolution kernels, ≤ 108-term dot products) and in exp/tanh/log
  // implementations: ~1e-16 per operation, a few hundred operations deep. A
  // layout error (kernel order, flatten order, a shifted window, padding on the
  // wrong side, the wrong max) changes results at 1e-2 or more.
  const double tol = 1e-12;
  int models = 0;
  for (const json& mj : doc.at("models")) {
    const std::string name = mj.at("name").get<std::string>();
    SCOPED_TRACE(name + ": " + mj.at("arch").get<std::string>() + " on " + mj.at("input").get<std::string>());
    ++models;
    const Index classes = mj.at("classes").get<Index>();
    const NetworkSpec spec = NetworkSpec::build(Architecture::parse(mj.at("arch").get<std::string>()),
                                                Shape::parse(mj.at("input").get<std::string>()),
                                                parse_loss(mj.at("loss").get<std::string>()), classes);
    Network<double> net(spec);
    ASSERT_EQ(mj.at("params").size(), net.num_param_layers());
    for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
      // The file's (out, in·kh·kw) rows are PyTorch's [out, in, kh, kw] kernel
      // reshaped row-major: exactly our W, no transposition.
      const Mat<double> W = matrix_from_rows(mj.at("params")[i].at("W"));
      ASSERT_EQ(W.rows(), net.params(i).W.rows()) << "layer " << i;
      ASSERT_EQ(W.cols(), net.params(i).W.cols()) << "layer " << i;
      net.params(i).W = W;
      net.params(i).b = vector_from(mj.at("params")[i].at("b"));
    }
    const Mat<double> X = matrix_from_rows(mj.at("X_samples")).transpose();  // (C·H·W, m)
    ASSERT_EQ(X.rows(), spec.input_size());
    const Index m = X.cols();
    Mat<double> Y = Mat<double>::Zero(classes, m);
    for (Index j = 0; j < m; ++j) Y(mj.at("labels").at(static_cast<std::size_t>(j)).get<Index>(), j) = 1;

    Tape<double> tape;
    net.forward(X, tape);
    const Mat<double> logits = matrix_from_rows(mj.at("outputs_samples")).transpose();
    EXPECT_LE(relative(tape.output(), logits), tol) << "outputs";

    Gradients<double> grads;
    BackpropWork<double> work;
    const double loss = backprop_gradients<double>(net, tape, Y, grads, work);
    EXPECT_NEAR(loss, mj.at("loss_value").get<double>(), tol * loss);
    for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
      const json& gj = mj.at("grads")[i];
      EXPECT_LE(relative(grads.dW[i], matrix_from_rows(gj.at("W"))), tol) << "dW of layer " << i;
      EXPECT_LE(relative(grads.db[i], vector_from(gj.at("b"))), tol) << "db of layer " << i;
    }
    const Mat<double> dX = testing::input_gradient(net, X, Y);
    EXPECT_LE(relative(dX, matrix_from_rows(mj.at("input_grad_samples")).transpose()), tol) << "input gradient";
  }
  EXPECT_EQ(models, 5);
}

TEST(LayerGolden, GoldenGradientsAreNotTrivial) {
  // Guards the file: every layer's gradient and the input gradient are far from
  // zero, so the 1e-12 comparison above is not vacuous.
  const json doc = load_golden("layer_steps.json");
  for (const json& mj : doc.at("models")) {
    for (const json& gj : mj.at("grads"))
      EXPECT_GT(matrix_from_rows(gj.at("W")).norm(), 1e-4) << mj.at("name");
    EXPECT_GT(matrix_from_rows(mj.at("input_grad_samples")).norm(), 1e-4) << mj.at("name");
  }
}

}  // namespace
}  // namespace sibp
