#include "experiment/results_docs.hpp"

#include <algorithm>
#include <map>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/scratch_dir.hpp"
#include "experiment/compare.hpp"
#include "experiment/generated_blocks.hpp"
#include "experiment/results_bundle.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {

/// One bundle's outputs, regenerated into a scratch folder.
struct Regenerated {
  std::string name;                 ///< the bundle's file name without .json.gz
  std::string bundle_file;          ///< relative to the root, for messages
  fs::path folder;                  ///< the unpacked results folder, holding the outputs
  ExperimentOutputs outputs;
  std::vector<NamedTable> tables;   ///< of its report.md
  std::string report_text;          ///< report.md
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// docs/data/results/*.json.gz, sorted by name.
std::vector<fs::path> bundle_files(const fs::path& root) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root / kBundleFolder, ec))
    if (e.is_regular_file() && ends_with(e.path().filename().string(), kBundleExtension)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

/// README.md and docs/*.md, in that order.
std::vector<fs::path> documents(const fs::path& root) {
  std::vector<fs::path> docs;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root / "docs", ec))
    if (e.is_regular_file() && e.path().extension() == ".md") docs.push_back(e.path());
  std::sort(docs.begin(), docs.end());
  if (fs::is_regular_file(root / "README.md")) docs.insert(docs.begin(), root / "README.md");
  return docs;
}

std::string relative_name(const fs::path& p, const fs::path& root) {
  return fs::relative(p, root).generic_string();
}

Regenerated regenerate_bundle(const fs::path& file, const fs::path& root, const fs::path& scratch, bool plots) {
  Regenerated r;
  const std::string filename = file.filename().string();
  r.name = filename.substr(0, filename.size() - std::string(kBundleExtension).size());
  r.bundle_file = relative_name(file, root);
  const ResultsBundle bundle = read_bundle(file);
  r.folder = scratch / r.name;
  unpack_bundle(bundle, r.folder);
  r.outputs = write_experiment_outputs(r.folder, bundle_experiment(bundle, r.bundle_file), plots);
  r.report_text = read_file(r.outputs.report);
  r.tables = markdown_tables(r.report_text);
  return r;
}

/// The note that tells a reader of docs/results/NAME/report.md where it came from.
std::string provenance_note(const Regenerated& r) {
  return "---\n\nThis copy was regenerated from the results bundle `" + r.bundle_file +
         "` by `sibp results regenerate` (`sibp results unpack` turns the bundle back into the results folder "
         "that `sibp plot` reads).\n";
}

/// The files of `r` to commit, relative to its folder: the table, report.md and the plots' PNG and SVG.
std::vector<fs::path> output_files(const Regenerated& r) {
  std::vector<fs::path> files{fs::relative(r.outputs.table, r.folder), fs::relative(r.outputs.report, r.folder)};
  for (const PlotFiles& p : r.outputs.plots) {
    files.push_back(fs::relative(p.png, r.folder));
    files.push_back(fs::relative(p.svg, r.folder));
  }
  return files;
}

void write_outputs(const Regenerated& r, const fs::path& root, std::ostream* log) {
  const fs::path dest = root / kBundleReportFolder / r.name;
  fs::remove_all(dest / "plots");  // plots of runs or data sets the bundle no longer has
  for (const fs::path& f : output_files(r)) {
    std::string bytes = read_file(r.folder / f);
    if (f == fs::relative(r.outputs.report, r.folder)) bytes += "\n" + provenance_note(r);
    fs::create_directories((dest / f).parent_path());
    write_file_atomic(dest / f, bytes);
    if (log) *log << "wrote " << relative_name(dest / f, root) << "\n";
  }
}

std::string stale_message(const std::string& what, const LineDifference& d) {
  return what + " differs from its regeneration at line " + std::to_string(d.line) + ": committed '" + d.committed +
         "', regenerated '" + d.generated + "'";
}

/// The committed table file and report.md tables of `r` against the regenerated ones.
void check_outputs(const Regenerated& r, const fs::path& root, std::vector<std::string>& stale) {
  const fs::path dest = root / kBundleReportFolder / r.name;
  const std::string hint = " (run `sibp results regenerate` and commit " + relative_name(dest, root) + ")";
  const fs::path table = dest / r.outputs.table.filename();
  if (!fs::is_regular_file(table)) {
    stale.push_back(relative_name(table, root) + " is missing" + hint);
  } else if (auto d = first_difference(read_file(table), read_file(r.outputs.table))) {
    stale.push_back(stale_message(relative_name(table, root), *d) + hint);
  }
  const fs::path report = dest / "report.md";
  if (!fs::is_regular_file(report)) {
    stale.push_back(relative_name(report, root) + " is missing" + hint);
    return;
  }
  const std::vector<NamedTable> committed = markdown_tables(read_file(report));
  for (std::size_t i = 0; i < std::max(committed.size(), r.tables.size()); ++i) {
    const std::string id = i < r.tables.size() ? r.tables[i].id : committed[i].id;
    const std::string a = i < committed.size() ? committed[i].text : "";
    const std::string b = i < r.tables.size() ? r.tables[i].text : "";
    if (auto d = first_difference(a, b)) {
      stale.push_back(stale_message(relative_name(report, root) + " table " + id, *d) + hint);
      return;  // one message per report: the rest usually follows from it
    }
  }
}

/// The text a block shows: the named table of its bundle, with its columns.
std::string block_text(const GeneratedBlock& b, const std::map<std::string, Regenerated>& bundles,
                       const std::string& at) {
  const auto it = bundles.find(b.bundle);
  if (it == bundles.end())
    throw DataError(at + ": generated block " + b.name() + " names the bundle '" + b.bundle + "', but there is no " +
                    kBundleFolder + "/" + b.bundle + kBundleExtension);
  const Regenerated& r = it->second;
  std::string known;
  for (const NamedTable& t : r.tables) {
    if (t.id == b.table) return b.columns.empty() ? t.text : select_columns(t.text, b.columns, at);
    known += (known.empty() ? "" : ", ") + t.id;
  }
  throw DataError(at + ": generated block " + b.name() + ": the report of " + r.bundle_file +
                  " has no table '" + b.table + "' (its tables: " + known + ")");
}

/// Rewrites (or checks) the generated blocks of one document; returns how many it has.
int splice_document(const fs::path& doc, const fs::path& root, const std::map<std::string, Regenerated>& bundles,
                    bool check, std::vector<std::string>& stale, std::ostream* log) {
  const std::string name = relative_name(doc, root);
  const std::string text = read_file(doc);
  const std::vector<GeneratedBlock> blocks = find_generated_blocks(text, name);
  std::string out = text;
  // From the last block to the first, so the byte ranges of the earlier ones stay valid.
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) {
    const std::string at = name + ":" + std::to_string(b->line);
    const std::string generated = block_text(*b, bundles, at);
    const std::string committed = text.substr(b->begin, b->end - b->begin);
    if (check) {
      if (auto d = first_difference(committed, generated))
        stale.push_back(stale_message(at + ": generated block " + b->name(), *d) +
                        " (run `sibp results regenerate` and commit " + name + ")");
    } else {
      out.replace(b->begin, b->end - b->begin, generated);
    }
  }
  if (!check && out != text) {
    write_file_atomic(doc, out);
    if (log) *log << "updated " << name << " (" << blocks.size() << " generated blocks)\n";
  }
  return static_cast<int>(blocks.size());
}

}  // namespace

RegenerateResult regenerate_results(const RegenerateOptions& options) {
  const fs::path& root = options.root;
  RegenerateResult result;
  const ScratchDir scratch("sibp-results-");
  std::map<std::string, Regenerated> bundles;
  for (const fs::path& file : bundle_files(root)) {
    Regenerated r = regenerate_bundle(file, root, scratch.path(), options.plots && !options.check);
    if (options.log) {
      *options.log << r.bundle_file << ": tables";
      for (const NamedTable& t : r.tables) *options.log << " " << r.name << "/" << t.id;
      *options.log << "\n";
    }
    if (options.check)
      check_outputs(r, root, result.stale);
    else
      write_outputs(r, root, options.log);
    bundles.emplace(r.name, std::move(r));
    ++result.bundles;
  }
  for (const fs::path& doc : documents(root))
    result.blocks += splice_document(doc, root, bundles, options.check, result.stale, options.log);
  return result;
}

}  // namespace sibp
