// `sibp eval`: loss, accuracy and confusion matrix of a saved model on a data split.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"
#include "data/data_source.hpp"
#include "io/model_metadata.hpp"
#include "io/safetensors.hpp"
#include "train/fit.hpp"

namespace sibp::cli {
namespace {

struct EvalArgs {
  std::string model;
  std::string arch;
  std::string data = "mnist:test";
  std::string data_dir;
  bool json = false;
};

void run(const EvalArgs& args) {
  const DataSpec data_spec = parse_data_spec(args.data);
  ModelFileOptions model_options;
  if (!args.arch.empty()) model_options.arch = Architecture::parse(args.arch);
  model_options.require_architecture = true;  // never guess the activations of bare weights
  DataOptions options;
  options.data_dir = args.data_dir.empty() ? default_data_dir() : std::filesystem::path(args.data_dir);
  const Dataset data = load_split(data_spec, options, Split::Test);
  model_options.input = data.sample_shape();
  const Network<double> net = load_network<double>(args.model, model_options);
  // A NaN weight would print an accuracy that means nothing.
  require_finite_parameters(net, args.model);
  const Normalization norm = normalization_from_metadata(read_safetensors_metadata(args.model), args.model);
  if (data.num_features() != net.input_size())
    throw UsageError("model '" + args.model + "' expects " + std::to_string(net.input_size()) +
                     " input features, but '" + args.data + "' has " + std::to_string(data.num_features()));
  if (net.output_size() < data.num_classes())
    throw UsageError("model '" + args.model + "' has " + std::to_string(net.output_size()) +
                     " outputs, but '" + args.data + "' has " + std::to_string(data.num_classes()) + " classes");
  if (norm.standardize() && static_cast<Index>(norm.mean.size()) != data.num_features())
    throw DataError(args.model + ": its standardisation has " + std::to_string(norm.mean.size()) +
                    " features, the data has " + std::to_string(data.num_features()));

  const Index C = net.output_size();
  std::vector<long long> confusion(static_cast<std::size_t>(C * C), 0);  // row: true, column: predicted
  double loss = 0;
  Batch<double> batch;
  Tape<double> work;
  const Index chunk = evaluation_chunk(net.spec(), 2000);
  for (Index begin = 0; begin < data.size(); begin += chunk) {
    const Index end = std::min(data.size(), begin + chunk);
    data.make_range_batch<double>(begin, end, norm, batch);
    // The model may have more outputs than the data has classes: pad Y.
    Mat<double> Y = Mat<double>::Zero(C, batch.Y.cols());
    Y.topRows(batch.Y.rows()) = batch.Y;
    const Mat<double>& out = net.predict(batch.X, work);
    loss += loss_sum<double>(net.loss(), out, Y);
    const std::vector<int> predicted = predict_classes<double>(out);
    for (Index j = 0; j < end - begin; ++j)
      ++confusion[static_cast<std::size_t>(data.labels()[begin + j] * C + predicted[j])];
  }
  long long correct = 0;
  for (Index c = 0; c < C; ++c) correct += confusion[static_cast<std::size_t>(c * C + c)];
  const double n = static_cast<double>(data.size());
  const double mean_loss = loss / n, accuracy = static_cast<double>(correct) / n;

  if (args.json) {
    nlohmann::json j = {{"model", args.model}, {"data", args.data},    {"samples", data.size()},
                        {"loss", mean_loss},   {"accuracy", accuracy}, {"confusion", nlohmann::json::array()}};
    for (Index r = 0; r < C; ++r) {
      nlohmann::json row = nlohmann::json::array();
      for (Index c = 0; c < C; ++c) row.push_back(confusion[static_cast<std::size_t>(r * C + c)]);
      j["confusion"].push_back(row);
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("model:    %s\ndata:     %s (%lld samples)\nloss:     %.6f\naccuracy: %.4f\n", args.model.c_str(),
              args.data.c_str(), static_cast<long long>(data.size()), mean_loss, accuracy);
  std::printf("confusion matrix (rows: true class, columns: predicted):\n      ");
  for (Index c = 0; c < C; ++c) std::printf("%6lld", static_cast<long long>(c));
  std::printf("\n");
  for (Index r = 0; r < C; ++r) {
    std::printf("%6lld", static_cast<long long>(r));
    for (Index c = 0; c < C; ++c) std::printf("%6lld", confusion[static_cast<std::size_t>(r * C + c)]);
    std::printf("\n");
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Loss, accuracy and confusion matrix of a saved model");
  cmd->add_option("--model", args->model, "A model.safetensors written by sibp train")->required();
  cmd->add_option("--arch", args->arch,
                  "The architecture, for a file without sibp.arch metadata (e.g. exported from PyTorch); "
                  "must agree with the file's when it has one");
  cmd->add_option("--data", args->data, "Data set and split, e.g. mnist:test (default split: test)")
      ->capture_default_str();
  cmd->add_option("--data-dir", args->data_dir, "Folder of fetched data sets (default: $SIBP_DATA_DIR or ./data)");
  cmd->add_flag("--json", args->json, "Print the results as JSON");
  cmd->callback([args] { run(*args); });
}

}  // namespace sibp::cli
