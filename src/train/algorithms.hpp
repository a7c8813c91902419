#pragma once
/// The options of one training algorithm, whatever the algorithm: what a run
/// description hands below the parser, and the one place that turns them into
/// an algorithm. Which algorithms exist is the registry's business
/// (train/registry.hpp); nothing here lists them.
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>

#include "core/communicator.hpp"
#include "nn/architecture.hpp"
#include "train/algorithm.hpp"

namespace sibp {

/// What a unit defines for its options struct `O` (only the specialisations for
/// a declared `O` exist; this one makes the name a template for the call below).
template <typename T, typename O>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const O& options, const NetworkSpec& spec,
                                                      Communicator& comm) = delete;

/// The float and double instances of the build_algorithm of options `O`: one
/// line in the source file of `O`'s unit.
#define SIBP_INSTANTIATE_BUILD_ALGORITHM(O)                                                                      \
  template std::unique_ptr<TrainingAlgorithm<float>> build_algorithm<float>(const O&, const NetworkSpec&,        \
                                                                            Communicator&);                      \
  template std::unique_ptr<TrainingAlgorithm<double>> build_algorithm<double>(const O&, const NetworkSpec&,      \
                                                                              Communicator&)

/// Validated options of one algorithm, type-erased. Any options struct `O`
/// converts to it when its unit declares, next to `O` (found by argument-dependent lookup):
///   std::string algorithm_name(const O&);      // "sgd", "adamw", "sibp", ...
///   template <typename T> std::unique_ptr<TrainingAlgorithm<T>>
///   build_algorithm(const O&, const NetworkSpec&, Communicator&);   // for float and double
class AlgorithmOptions {
 public:
  AlgorithmOptions() = default;
  template <typename O, typename = std::enable_if_t<!std::is_same_v<std::decay_t<O>, AlgorithmOptions>>>
  AlgorithmOptions(O options) : impl_(std::make_shared<const Model<std::decay_t<O>>>(std::move(options))) {}

  /// The --algo name; "" when empty.
  std::string name() const { return impl_ ? impl_->name() : std::string(); }
  /// The options if they are an `O`, else null.
  template <typename O>
  const O* get_if() const {
    return impl_ && impl_->type() == typeid(O) ? static_cast<const O*>(impl_->data()) : nullptr;
  }
  /// The options as an `O`; throws std::bad_cast otherwise.
  template <typename O>
  const O& get() const {
    if (const O* o = get_if<O>()) return *o;
    throw std::bad_cast();
  }
  /// The algorithm for networks of `spec` (see make_algorithm).
  std::unique_ptr<TrainingAlgorithm<float>> make(const NetworkSpec& spec, Communicator& comm, float) const;
  std::unique_ptr<TrainingAlgorithm<double>> make(const NetworkSpec& spec, Communicator& comm, double) const;

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual std::string name() const = 0;
    virtual const std::type_info& type() const = 0;
    virtual const void* data() const = 0;
    virtual std::unique_ptr<TrainingAlgorithm<float>> make_f32(const NetworkSpec&, Communicator&) const = 0;
    virtual std::unique_ptr<TrainingAlgorithm<double>> make_f64(const NetworkSpec&, Communicator&) const = 0;
  };
  template <typename O>
  struct Model final : Concept {
    explicit Model(O o) : options(std::move(o)) {}
    std::string name() const override { return algorithm_name(options); }
    const std::type_info& type() const override { return typeid(O); }
    const void* data() const override { return &options; }
    std::unique_ptr<TrainingAlgorithm<float>> make_f32(const NetworkSpec& s, Communicator& c) const override {
      return build_algorithm<float>(options, s, c);
    }
    std::unique_ptr<TrainingAlgorithm<double>> make_f64(const NetworkSpec& s, Communicator& c) const override {
      return build_algorithm<double>(options, s, c);
    }
    O options;
  };
  std::shared_ptr<const Concept> impl_;
};

/// The algorithm for networks of `spec`. Throws UsageError / OptionError when the
/// options do not fit the network (λ count, `exact` on a nonlinear layer), and
/// std::invalid_argument for empty options.
/// `comm`: the ranks of a data-parallel run (ALGORITHMS.md §6), each stepping on its shard.
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> make_algorithm(const AlgorithmOptions& options, const NetworkSpec& spec,
                                                     Communicator& comm = single_process()) {
  return options.make(spec, comm, T{});
}

}  // namespace sibp
