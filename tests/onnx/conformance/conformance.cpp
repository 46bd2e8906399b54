// ONNX's backend conformance node cases (written by the ONNX project; generated from Debian's
// python3-onnx by tests/onnx/conformance.py) run through fovea's importer:
//   fovea_onnx_conformance CASES_DIR docs/onnx.md [--only SUBSTRING] [--verbose]
// A case (CASES_DIR/test_x/model.onnx with test_data_set_*/input_K.pb and output_K.pb) whose ops
// fovea imports must load, run and match the expected outputs at ONNX's own tolerances
// (rtol 1e-3, atol 1e-7; NaN matches NaN) with the expected shape and element type. A case
// fovea refuses with an error is allowed only when docs/onnx.md lists it (a table row
// "| `test_x` | why |" in the section "Conformance"); a listed case that passes is a stale row.
// A listed row whose reason starts with "differs" allows a different answer where the case's
// expected data is what differs from the specification (documented there).
// Cases with an op fovea does not import are skipped and counted by op. A wrong answer always
// fails. Weights fed as graph inputs are bound as constants (onnx::LoadOptions) when the model
// does not load with every input fed at run time.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "fovea/core/tensor.h"
#include "fovea/onnx/import.h"

namespace fs = std::filesystem;
using namespace fovea;

namespace {

// docs/onnx.md, section "## Conformance": rows "| `test_name` | why |"
std::map<std::string, std::string> listed_cases(const std::string& doc) {
  std::ifstream f(doc);
  if (!f) throw std::runtime_error("cannot open " + doc);
  std::map<std::string, std::string> r;
  std::string line;
  bool in_section = false;
  const std::regex row(R"(^\|\s*`(test_[A-Za-z0-9_]+)`\s*\|\s*(.*?)\s*\|\s*$)");
  while (std::getline(f, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Conformance";
    std::smatch m;
    if (in_section && std::regex_match(line, m, row)) r[m[1]] = m[2];
  }
  return r;
}

std::vector<fs::path> files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> r;
  for (int k = 0;; ++k) {
    fs::path p = dir / (prefix + std::to_string(k) + ".pb");
    if (!fs::exists(p)) return r;
    r.push_back(p);
  }
}

// "" when `got` matches `want`, else what differs
std::string compare(const Tensor& want, const Tensor& got) {
  if (!got.defined()) return "no output";
  if (got.shape() != want.shape())
    return fmt::format("shape {} instead of {}", shape_str(got.shape()), shape_str(want.shape()));
  if (got.dtype() != want.dtype())
    return fmt::format("element type {} instead of {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  const auto w = want.to(DType::f64).contiguous().to_vector<double>();
  const auto g = got.to(kCPU).to(DType::f64).contiguous().to_vector<double>();
  std::size_t bad = 0, first = 0;
  double worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    if (w[i] == g[i]) continue;  // equal infinities
    const double err = std::abs(w[i] - g[i]);
    if (!(err <= 1e-7 + 1e-3 * std::abs(w[i]))) {
      if (bad++ == 0) first = i;
      worst = std::isnan(err) ? err : std::max(worst, err);
    }
  }
  if (bad == 0) return "";
  return fmt::format("{} of {} values differ (first at {}: {} instead of {}; largest error {:.3g})", bad, w.size(),
                     first, g[first], w[first], worst);
}

// onnx 1.12's cases store bfloat16 data as UINT16 (read as i64): the bit patterns as bf16
Tensor as_declared(const Tensor& t, const std::string& declared) {
  if (declared != "BFLOAT16" || t.dtype() != DType::i64) return t;
  Tensor out = empty(t.shape(), {.dtype = DType::bf16});
  const auto bits = t.contiguous().to_vector<std::int64_t>();
  auto* p = static_cast<std::uint16_t*>(out.raw_data());
  for (std::size_t i = 0; i < bits.size(); ++i) p[i] = static_cast<std::uint16_t>(bits[i]);
  return out;
}

enum class Outcome { pass, refused, wrong, skipped };

struct Result {
  Outcome outcome;
  std::string detail;
};

Result run_case(const fs::path& dir) {
  const std::string model = (dir / "model.onnx").string();
  const onnx::ModelInfo info = onnx::inspect(model);
  if (!info.unsupported.empty()) return {Outcome::skipped, fmt::format("{}", fmt::join(info.unsupported, " "))};
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Outcome::refused, "no test data"};
  try {
    for (const auto& set : sets) {
      std::vector<Tensor> in, want;
      if (files(set, "input_").size() != info.inputs.size() || files(set, "output_").size() > info.outputs.size())
        return {Outcome::refused, "the test data does not match the graph's inputs and outputs"};
      for (const auto& p : files(set, "input_"))
        in.push_back(as_declared(onnx::read_tensor(p.string()), info.input_types.at(in.size())));
      for (const auto& p : files(set, "output_"))
        want.push_back(as_declared(onnx::read_tensor(p.string()), info.output_types.at(want.size())));
      std::shared_ptr<onnx::Graph> g;
      std::vector<Tensor> feed = in;
      try {
        g = onnx::load_model(model);
      } catch (const Error& e) {
        if (std::string(e.what()).find("must be an initializer or a constant") == std::string::npos) throw;
        onnx::LoadOptions o;  // weights fed as inputs: every input after the first becomes a constant
        for (std::size_t k = 1; k < in.size(); ++k) o.constants[info.inputs[k]] = in[k];
        g = onnx::load_model(model, o);
        feed.resize(1);
      }
      const std::vector<Tensor> got = g->run(feed);
      if (got.size() < want.size())
        return {Outcome::wrong, fmt::format("{} outputs, expected {}", got.size(), want.size())};
      for (std::size_t k = 0; k < want.size(); ++k)
        if (auto d = compare(want[k], got[k]); !d.empty())
          return {Outcome::wrong, fmt::format("{} output {}: {}", set.filename().string(), k, d)};
    }
  } catch (const Error& e) {
    return {Outcome::refused, e.what()};
  }
  return {Outcome::pass, ""};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: fovea_onnx_conformance CASES_DIR docs/onnx.md [--only SUBSTRING] [--verbose]\n";
    return 2;
  }
  const fs::path root = argv[1];
  std::string only;
  bool verbose = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--verbose") verbose = true;
  }
  const auto listed = listed_cases(argv[2]);
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "model.onnx") && e.path().filename().string().find(only) != std::string::npos)
      cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  if (cases.empty()) {
    std::cerr << "[conformance] no cases under " << root << "\n";
    return 1;
  }
  int pass = 0, refused = 0, skipped = 0, problems = 0;  // refused: as listed
  std::map<std::string, int> skipped_by_op;
  std::set<std::string> seen;
  for (const auto& dir : cases) {
    const std::string name = dir.filename().string();
    seen.insert(name);
    const Result r = run_case(dir);
    const bool is_listed = listed.count(name) > 0;
    switch (r.outcome) {
      case Outcome::skipped:
        ++skipped;
        for (const auto& op : onnx::inspect((dir / "model.onnx").string()).unsupported) ++skipped_by_op[op];
        if (is_listed) {
          ++problems;
          std::cout << "STALE    " << name << ": listed in docs/onnx.md but skipped for an op fovea lacks (" << r.detail
                    << ")\n";
        } else if (verbose) {
          std::cout << "skip     " << name << ": " << r.detail << "\n";
        }
        break;
      case Outcome::pass:
        ++pass;
        if (is_listed) {
          ++problems;
          std::cout << "STALE    " << name << ": listed in docs/onnx.md as refused, but passes\n";
        } else if (verbose) {
          std::cout << "pass     " << name << "\n";
        }
        break;
      case Outcome::refused:
        if (is_listed) ++refused;
        if (!is_listed) {
          ++problems;
          std::cout << "REFUSED  " << name << ": " << r.detail << "\n";
        } else if (verbose) {
          std::cout << "refused  " << name << " (listed): " << r.detail << "\n";
        }
        break;
      case Outcome::wrong:
        if (is_listed && listed.at(name).rfind("differs", 0) == 0) {  // a documented difference of the data
          ++refused;
          if (verbose) std::cout << "differs  " << name << " (listed): " << r.detail << "\n";
          break;
        }
        ++problems;
        std::cout << "WRONG    " << name << ": " << r.detail << "\n";
        break;
    }
  }
  if (only.empty())
    for (const auto& [name, why] : listed)
      if (!seen.count(name)) {
        ++problems;
        std::cout << "STALE    " << name << ": listed in docs/onnx.md but not a case of this ONNX version\n";
      }
  std::vector<std::pair<int, std::string>> by_count;
  for (const auto& [op, n] : skipped_by_op) by_count.push_back({-n, op});
  std::sort(by_count.begin(), by_count.end());
  std::string ops;
  for (const auto& [n, op] : by_count) ops += fmt::format("{}{} ({})", ops.empty() ? "" : ", ", op, -n);
  std::cout << fmt::format(
      "[conformance] {} cases: {} pass, {} refused or differing as docs/onnx.md lists, {} skipped for ops "
      "fovea does not import, {} problem(s)\n",
      cases.size(), pass, refused, skipped, problems);
  std::cout << "[conformance] ops of the skipped cases: " << ops << "\n";
  return problems == 0 ? 0 : 1;
}
