#include "train/schedule.hpp"

#include <charconv>
#include <cmath>

#include "core/error.hpp"
#include "core/format.hpp"

namespace sibp {

namespace {

const char* const kScheduleForms = "expected constant, cosine or multistep:E1,E2,...:GAMMA";

/// The milestones "30,60" of a multistep schedule (validated later).
std::vector<int> parse_milestones(std::string_view text, std::string_view whole) {
  std::vector<int> out;
  std::size_t a = 0;
  while (a <= text.size()) {
    const std::size_t b = std::min(text.find(',', a), text.size());
    int e = 0;
    const auto [end, ec] = std::from_chars(text.data() + a, text.data() + b, e);
    if (a == b || ec != std::errc() || end != text.data() + b)
      throw OptionError("schedule", "'" + std::string(whole) + "': the milestones must be epoch counts joined by ',', got '" +
                                        std::string(text.substr(a, b - a)) + "'");
    out.push_back(e);
    a = b + 1;
  }
  return out;
}

double parse_gamma(std::string_view text, std::string_view whole) {
  double g = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), g);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw OptionError("schedule", "'" + std::string(whole) + "': GAMMA must be a number, got '" + std::string(text) + "'");
  return g;
}

/// MultiStepLR's factor: gamma once for every milestone the completed epochs have reached.
double multistep_factor(const StepSchedule& s, int completed_epochs) {
  double f = 1;
  for (const int e : s.milestones)
    if (e <= completed_epochs) f *= s.gamma;
  return f;
}

}  // namespace

void StepSchedule::validate() const {
  if (kind == Kind::MultiStep) {
    if (milestones.empty()) throw OptionError("schedule", "multistep needs at least one milestone epoch");
    for (std::size_t i = 0; i < milestones.size(); ++i) {
      if (milestones[i] < 1)
        throw OptionError("schedule", "multistep milestones count completed epochs and must be >= 1, got " +
                                          std::to_string(milestones[i]));
      if (i > 0 && milestones[i] <= milestones[i - 1])
        throw OptionError("schedule", "multistep milestones must be strictly increasing, got " +
                                          std::to_string(milestones[i - 1]) + " then " + std::to_string(milestones[i]));
    }
    if (!(gamma > 0) || !std::isfinite(gamma))
      throw OptionError("schedule", "multistep GAMMA must be a finite number > 0, got " + format_number(gamma));
  }
  if (warmup < 0 || warmup > kMaxWarmup)
    throw OptionError("warmup", "expected an integer from 0 to " + std::to_string(kMaxWarmup) + ", got " +
                                    std::to_string(warmup));
}

StepSchedule parse_step_schedule(std::string_view text) {
  StepSchedule s;
  if (text == "constant") return s;
  if (text == "cosine") {
    s.kind = StepSchedule::Kind::Cosine;
    return s;
  }
  const std::string_view prefix = "multistep:";
  if (text.substr(0, prefix.size()) != prefix)
    throw OptionError("schedule", std::string(kScheduleForms) + ", got '" + std::string(text) + "'");
  s.kind = StepSchedule::Kind::MultiStep;
  const std::string_view rest = text.substr(prefix.size());
  const std::size_t colon = rest.find(':');
  s.milestones = parse_milestones(rest.substr(0, colon), text);
  if (colon != std::string_view::npos) s.gamma = parse_gamma(rest.substr(colon + 1), text);
  s.validate();
  return s;
}

std::string to_string(const StepSchedule& s) {
  switch (s.kind) {
    case StepSchedule::Kind::Constant: return "constant";
    case StepSchedule::Kind::Cosine: return "cosine";
    case StepSchedule::Kind::MultiStep: break;
  }
  std::string text = "multistep:";
  for (std::size_t i = 0; i < s.milestones.size(); ++i) text += (i ? "," : "") + std::to_string(s.milestones[i]);
  return text + ":" + format_number(s.gamma);
}

double step_factor(const StepSchedule& s, long long iteration, int epoch, long long total_iterations) {
  double f = 1;
  switch (s.kind) {
    case StepSchedule::Kind::Constant: break;
    case StepSchedule::Kind::Cosine: {
      const double pi = std::acos(-1.0);
      f = 0.5 * (1 + std::cos(pi * static_cast<double>(iteration) / static_cast<double>(total_iterations)));
      break;
    }
    case StepSchedule::Kind::MultiStep: f = multistep_factor(s, epoch - 1); break;
  }
  if (iteration < s.warmup) f *= static_cast<double>(iteration + 1) / static_cast<double>(s.warmup);
  return f;
}

}  // namespace sibp
