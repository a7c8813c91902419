#pragma once
/// Step schedules: how a run's step changes over its iterations, as a factor
/// that multiplies it. The step is what each algorithm moves by: the learning
/// rate of the gradient rules (SGD, momentum, Nesterov, Adam, AdamW, RMSprop),
/// ProxProp's outer learning rate, and SIBP's neuron step η (ALGORITHMS.md §3).
///
/// The factor is a pure function of where the loop stands (iteration, epoch,
/// the run's length), so a resumed run recomputes exactly the factors of the
/// uninterrupted one, and the constant schedule without warm-up is exactly 1.
/// The definitions are torch.optim.lr_scheduler's (tests/train/test_schedule.cpp
/// compares them with it).
#include <string>
#include <string_view>
#include <vector>

namespace sibp {

/// Largest accepted warm-up, in iterations (larger values are typos).
inline constexpr long long kMaxWarmup = 1LL << 40;

/// A step schedule and its linear warm-up (options --schedule and --warmup).
struct StepSchedule {
  enum class Kind {
    Constant,   ///< "constant": factor 1
    Cosine,     ///< "cosine": (1 + cos(π i / total)) / 2 at 0-based iteration i (CosineAnnealingLR, eta_min 0)
    MultiStep,  ///< "multistep:E1,E2,...:GAMMA": × GAMMA once E epochs are done, for each milestone E (MultiStepLR)
  };
  Kind kind = Kind::Constant;
  /// MultiStep: numbers of completed epochs, strictly increasing, each >= 1.
  /// Milestone E applies from epoch E + 1 (1-based) on, as MultiStepLR's
  /// milestones when it is stepped once per epoch.
  std::vector<int> milestones;
  double gamma = 0.1;  ///< MultiStep: finite and > 0
  /// Linear warm-up over the first `warmup` iterations, multiplying the
  /// schedule: factor (i + 1) / warmup at 0-based iteration i < warmup
  /// (LinearLR with start_factor 1/warmup and total_iters warmup − 1); 0: none.
  long long warmup = 0;

  /// Throws OptionError("schedule") for milestones that are not strictly
  /// increasing integers >= 1 or a gamma that is not finite and > 0, and
  /// OptionError("warmup") for a warm-up outside [0, kMaxWarmup].
  void validate() const;
  /// True for the constant schedule without warm-up: every factor is 1.
  bool trivial() const { return kind == Kind::Constant && warmup == 0; }
  bool operator==(const StepSchedule& o) const {
    return kind == o.kind && milestones == o.milestones && gamma == o.gamma && warmup == o.warmup;
  }
  bool operator!=(const StepSchedule& o) const { return !(*this == o); }
};

/// Parses the --schedule text ("constant", "cosine", "multistep:30,60:0.1")
/// into the kind, milestones and gamma of a schedule without warm-up.
/// Throws OptionError("schedule") naming what is wrong.
StepSchedule parse_step_schedule(std::string_view text);
/// The --schedule text of `s` (without its warm-up); parse_step_schedule reads it back.
std::string to_string(const StepSchedule& s);

/// The factor of the step taken at 0-based `iteration`, in 1-based `epoch`,
/// of a run of `total_iterations` steps: the warm-up's times the schedule's.
/// Requires: s validated, 0 <= iteration < total_iterations, epoch >= 1.
double step_factor(const StepSchedule& s, long long iteration, int epoch, long long total_iterations);

}  // namespace sibp
