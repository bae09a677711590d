// snrun --train and --checkpoint (train_cli.h; `docs/runtime.md` ("Runtime")).
#include "train_cli.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/arch/config.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/npz.h"
#include "openrdu/runtime/train.h"
#include "openrdu/support/files.h"

namespace openrdu::snrun {

namespace {

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : "null"; }

// Per step: a JSON line in --metrics, a progress bar on stdout when it is a terminal.
class StepReporter {
 public:
  explicit StepReporter(const std::string& metrics) : tty_(::isatty(1) != 0) {
    if (metrics.empty()) return;
    out_.open(metrics, std::ios::trunc);
    if (!out_) throw std::runtime_error(fmt::format("--metrics {}: cannot write: {}", metrics, std::strerror(errno)));
  }
  void step(const runtime::StepMetrics& m) {
    if (out_.is_open()) {
      out_ << fmt::format("{{\"epoch\": {}, \"step\": {}, \"loss\": {}}}\n", m.epoch, m.step, json_number(m.loss));
      out_.flush();
    }
    if (!tty_) return;
    constexpr size_t kWidth = 30;
    const size_t fill = m.step * kWidth / m.steps;
    fmt::print("\r  [{}{}] step {}/{}  loss {:.6f}", std::string(fill, '#'), std::string(kWidth - fill, ' '), m.step,
               m.steps, m.loss);
    std::fflush(stdout);
  }
  void end_epoch() {
    if (tty_) fmt::print("\r\033[K");
  }

 private:
  bool tty_;
  std::ofstream out_;
};

// --validate: the inference PEF and its data set, checked before the device opens.
struct Validation {
  pef::Pef pef;
  runtime::TrainSpec spec;
  runtime::TensorMap data;
};

std::optional<Validation> prepare_validation(const TrainCli& t, const runtime::TrainSpec& train,
                                             const arch::Config& cfg) {
  if (t.validate.empty() != t.validate_pef.empty())
    throw std::runtime_error("--validate NAME=FILE.npy and --validate-pef INFER.pef go together");
  if (t.validate.empty()) return std::nullopt;
  Validation v;
  v.pef = pef::read_file(t.validate_pef);
  runtime::check_pef_for_device(v.pef, cfg.fingerprint(), cfg.name, cfg.dram_bytes);
  v.spec = runtime::eval_spec(v.pef, t.validate_pef, train);
  std::map<std::string, std::string> files;
  v.data = runtime::read_named_npy(t.validate, "--validate", &files);
  runtime::check_dataset(v.spec, v.data, files, "--validate");
  return v;
}

// Evaluates the validation set with the trained values: the inference PEF is loaded in
// the same session, its weights replaced by name, run over the set in order; then the
// training PEF is loaded again and its parameters and state written back (as --resume
// does, so training continues exactly).
runtime::EpochMetrics validate(runtime::Session& session, const pef::Pef& train_pef, const runtime::TrainSpec& train,
                               const Validation& v, size_t epoch, double clock_mhz) {
  const runtime::TensorMap state = runtime::read_train_state(session, train);
  session.load(v.pef);
  runtime::apply_checkpoint_weights(session, state, "(the trained values)");
  runtime::EpochMetrics m =
      runtime::Trainer(v.spec, runtime::session_step(session, v.spec), clock_mhz).run_epoch(v.data, epoch, {}, {});
  session.load(train_pef);
  runtime::restore_checkpoint(session, train, state, "(the trained values)");
  return m;
}

void print_epoch(const runtime::EpochMetrics& m, size_t last) {
  fmt::print("epoch {}/{}  loss {:.6f}  accuracy {}  samples/s (simulated) {:.1f}  samples/s (wall) {:.1f}\n", m.epoch,
             last, m.mean_loss, m.accuracy ? fmt::format("{:.2f}%", 100 * *m.accuracy) : std::string("-"),
             m.samples_per_sim_second, m.samples_per_wall_second);
  std::fflush(stdout);
}

}  // namespace

void add_train_options(CLI::App& app, TrainCli& t) {
  app.add_flag("--train", t.train, "train: run the training PEF over --data for --epochs (updates its weights)");
  app.add_option("--data", t.data, "--train: a data input NAME=FILE.npy holding N samples [N, ...] (repeat)")
      ->allow_extra_args(false);
  app.add_option("--epochs", t.epochs, "--train: epochs to run (default 1)");
  app.add_flag("--shuffle", t.shuffle, "--train: shuffle the samples every epoch (order from --seed and the epoch)");
  app.add_option("--seed", t.seed, "--train --shuffle: seed (default 0)");
  app.add_option("--checkpoint-dir", t.checkpoint_dir, "--train: write DIR/epoch<K>.npz after every epoch");
  app.add_option("--resume", t.resume, "--train: start from a checkpoint .npz (epoch numbering continues)");
  app.add_option("--metrics", t.metrics, "--train: one JSON line per step (epoch, step, loss) to FILE.jsonl");
  app.add_option("--validate", t.validate, "--train: a validation input NAME=FILE.npy [N, ...] (repeat; labels too)")
      ->allow_extra_args(false);
  app.add_option("--validate-pef", t.validate_pef,
                 "--train --validate: the inference PEF that evaluates the validation set after every epoch");
  app.add_option("--checkpoint", t.checkpoint, "inference: replace the PEF's weights by those of a checkpoint .npz");
}

int run_train(const TrainCli& t, const std::string& model, const DeviceCli& d) {
  if (!t.checkpoint.empty()) throw std::runtime_error("--checkpoint is for inference; --train takes --resume");
  if (t.epochs == 0) throw std::runtime_error("--epochs must be at least 1");
  if (!(d.timeout_s > 0)) throw std::runtime_error(fmt::format("--timeout {}: must be positive", d.timeout_s));
  const pef::Pef pef = pef::read_file(model);
  const runtime::TrainSpec spec = runtime::train_spec(pef, model);
  std::map<std::string, std::string> files;
  const runtime::TensorMap data = runtime::read_named_npy(t.data, "--data", &files);
  const size_t n = runtime::check_dataset(spec, data, files);
  const arch::Config cfg = arch::load_config(d.config);
  runtime::check_pef_for_device(pef, cfg.fingerprint(), cfg.name, cfg.dram_bytes);
  const std::optional<Validation> val = prepare_validation(t, spec, cfg);
  if (!t.checkpoint_dir.empty()) support::ensure_writable_dir(t.checkpoint_dir, "--checkpoint-dir");
  const runtime::TensorMap resume = t.resume.empty() ? runtime::TensorMap{} : runtime::read_npz(t.resume);
  StepReporter reporter(t.metrics);

  runtime::SessionOptions sopt;
  sopt.timeout_s = d.timeout_s;
  sopt.watchdog_cycles = d.watchdog;
  sopt.fault = d.fault;
  driver::DeviceOptions dopt;
  dopt.timeout_s = d.timeout_s;
  auto session = runtime::Session::open(d.backend, cfg, sopt, dopt);
  session->load(pef);
  runtime::TrainOptions opts{t.epochs, 1, t.shuffle, t.seed};
  if (!t.resume.empty()) opts.first_epoch = runtime::restore_checkpoint(*session, spec, resume, t.resume) + 1;
  const size_t last = opts.first_epoch + opts.epochs - 1;
  spdlog::info("training {} on {} ({}): {} samples, batch {}, {} steps per epoch, epochs {}..{}", model, d.backend,
               cfg.name, n, spec.batch, n / spec.batch, opts.first_epoch, last);

  runtime::TrainCallbacks cb;
  cb.on_step = [&](const runtime::StepMetrics& m) { reporter.step(m); };
  cb.on_epoch = [&](const runtime::EpochMetrics& m) {
    reporter.end_epoch();
    print_epoch(m, last);
    if (!t.checkpoint_dir.empty()) {
      const auto path = (std::filesystem::path(t.checkpoint_dir) / fmt::format("epoch{}.npz", m.epoch)).string();
      runtime::save_checkpoint(*session, spec, m.epoch, path);
      fmt::print("  wrote {}\n", path);
    }
    if (!val) return;
    const runtime::EpochMetrics v = validate(*session, pef, spec, *val, m.epoch, cfg.clock_mhz);
    fmt::print("  validation  loss {}  accuracy {}  ({} samples)\n",
               val->spec.loss.empty() ? std::string("-") : fmt::format("{:.6f}", v.mean_loss),
               v.accuracy ? fmt::format("{:.2f}%", 100 * *v.accuracy) : std::string("-"), v.samples);
    std::fflush(stdout);
  };
  runtime::Trainer(spec, runtime::session_step(*session, spec), cfg.clock_mhz).train(data, opts, cb);
  return 0;
}

void check_inference_flags(const TrainCli& t) {
  if (!t.data.empty() || !t.checkpoint_dir.empty() || !t.resume.empty() || !t.metrics.empty() || !t.validate.empty() ||
      !t.validate_pef.empty() || t.shuffle)
    throw std::runtime_error(
        "--data, --shuffle, --checkpoint-dir, --resume, --metrics, --validate and --validate-pef need --train");
}

void apply_checkpoint(runtime::Session& session, const std::string& path) {
  const size_t k = runtime::apply_checkpoint_weights(session, runtime::read_npz(path), path);
  spdlog::info("--checkpoint {}: {} weights replaced", path, k);
}

}  // namespace openrdu::snrun
