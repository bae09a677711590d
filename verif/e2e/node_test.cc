// The node daemon snd (docs/daemon.md) end to end: applications through runtime::Session
// over driver::open_device("unix:PATH"), each output compared bit for bit with the same
// inputs run alone through an in-process Session (one SystemC device per process: the
// reference runs in this test process, the daemon's RDUs in its workers).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "../../bench/onnx_model.h"
#include "openrdu/arch/bitstream.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/driver/device.h"
#include "openrdu/gen/regs.h"
#include "openrdu/runtime/session.h"
#include "snd_process.h"

namespace openrdu {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Outputs = std::map<std::string, runtime::HostTensor>;
using Inputs = std::map<std::string, runtime::HostTensor>;

const arch::Config& tiny() {
  static const arch::Config c = arch::load_config("tiny");
  return c;
}

// The digits MLP (examples/digits) compiled for tiny: an inference application.
const pef::Pef& mlp() {
  static const pef::Pef p = pef::parse(
      pef::serialize(compiler::compile_onnx_file(OPENRDU_EXAMPLES_DIR "/digits/model.onnx", tiny())), "digits");
  return p;
}

// Inputs of application `app`, run `run`: every fp32 input filled from a seeded generator.
Inputs inputs_for(const pef::Pef& p, int app, int run) {
  std::mt19937 rng(1000 * app + run);
  std::uniform_real_distribution<float> d(-2, 2);
  Inputs in;
  for (const auto& t : p.tensors)
    if (t.role == pef::Role::Input) {
      std::vector<float> v(t.elements());
      for (auto& x : v) x = d(rng);
      in[t.name] = {t.shape, v};
    }
  return in;
}

// Bit-for-bit equality of every output.
void expect_same(const Outputs& got, const Outputs& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [name, w] : want) {
    const auto it = got.find(name);
    ASSERT_NE(it, got.end()) << what << ": no output " << name;
    ASSERT_EQ(it->second.shape, w.shape) << what << ": " << name;
    ASSERT_EQ(it->second.data.size(), w.data.size()) << what << ": " << name;
    EXPECT_EQ(std::memcmp(it->second.data.data(), w.data.data(), 4 * w.data.size()), 0) << what << ": " << name;
  }
}

// The outputs of apps x runs, each run alone through an in-process Session on `backend`.
std::vector<std::vector<Outputs>> run_alone(const std::string& backend, int apps, int runs) {
  auto s = runtime::Session::open(backend, tiny());
  s->load(mlp());
  std::vector<std::vector<Outputs>> out(apps);
  for (int a = 0; a < apps; ++a)
    for (int r = 0; r < runs; ++r) out[a].push_back(s->run(inputs_for(mlp(), a, r)).outputs);
  return out;
}

// One application: a session over the daemon's device.
struct Client {
  Client(const std::string& device, bool wait = true, const std::string& name = "node_test") {
    driver::DeviceOptions o;
    o.wait_for_tiles = wait;
    o.app_name = name;
    dev = driver::open_device(device, tiny(), o);
    session = std::make_unique<runtime::Session>(*dev, tiny());
  }
  std::unique_ptr<driver::Device> dev;
  std::unique_ptr<runtime::Session> session;
};

fs::path test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return fs::path(OPENRDU_NODE_TEST_DIR) / info->name();
}

// Polls `pred` for up to 30 s.
template <class F>
bool eventually(F pred) {
  for (int i = 0; i < 600; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A raw connection: one line out, one JSON reply back (or nullopt when the daemon closes).
struct Raw {
  explicit Raw(const std::string& path) : c(driver::wire::connect_unix(path)) {}
  std::optional<json> send(const std::string& bytes) {
    if (::send(c.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != ssize_t(bytes.size())) return std::nullopt;
    try {
      if (!c.read(last)) return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
    return last.head;
  }
  // One request (the version added) with `payload` after it; the reply's payload in `last`.
  json request(json req, const std::string& payload = "") {
    req["version"] = 1;
    if (!payload.empty()) req["payload"] = payload.size();
    const auto r = send(req.dump() + "\n" + payload);
    if (!r) throw std::runtime_error("the daemon closed the connection");
    return *r;
  }
  driver::wire::Conn c;
  driver::wire::Message last;
};

// Runs `app` (a client looping over runs) in a child process, kills it (SIGKILL) once the
// daemon has counted three STARTs of it, and waits until the daemon has torn it down.
::testing::AssertionResult kill_mid_run(const test::SndProcess& snd, const std::function<void()>& app) {
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      app();
    } catch (...) {
    }
    ::_exit(1);
  }
  const bool running = eventually([&] {
    const json st = snd.status();
    return st["apps"].size() == 1 && st["apps"][0]["starts"].get<uint64_t>() >= 3;
  });
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  if (!running) return ::testing::AssertionFailure() << "the client did not reach 3 STARTs";
  if (!eventually([&] { return snd.status()["counts"]["active"] == 0; }))
    return ::testing::AssertionFailure() << "the killed client's application was not torn down";
  return ::testing::AssertionSuccess();
}

// Eight applications at once, each on a whole RDU (--rdus 8; the client asks for no tile count),
// each output equal to the same application's output run alone; a ninth is refused at
// once when it asks not to wait.
TEST(Node, EightApplicationsAtOnceMatchRunsAlone) {
  constexpr int kApps = 8, kRuns = 3;
  const auto alone = run_alone("func", kApps, kRuns);
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "8", "--config", "tiny", "--backend", "func"});
  std::barrier opened(kApps + 1), checked(kApps + 1);
  std::vector<std::vector<Outputs>> got(kApps);
  std::vector<std::string> errors(kApps);
  std::vector<std::thread> apps;
  for (int a = 0; a < kApps; ++a)
    apps.emplace_back([&, a] {
      try {
        Client c(snd.device(), true, fmt::format("app{}", a));
        c.session->load(mlp());
        opened.arrive_and_wait();
        checked.arrive_and_wait();
        for (int r = 0; r < kRuns; ++r) got[a].push_back(c.session->run(inputs_for(mlp(), a, r)).outputs);
      } catch (const std::exception& e) {
        errors[a] = e.what();
        opened.arrive_and_drop();
        checked.arrive_and_drop();
      }
    });
  opened.arrive_and_wait();
  const json st = snd.status();
  EXPECT_EQ(st["counts"]["active"], kApps);
  std::set<uint32_t> rdus;
  for (const auto& a : st["apps"]) rdus.insert(a["rdu"].get<uint32_t>());
  EXPECT_EQ(rdus.size(), size_t(kApps)) << st.dump();
  try {
    Client ninth(snd.device(), false);
    ADD_FAILURE() << "a ninth application was admitted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("node busy: 8 of 8 applications running (--max-apps 8), 0 of 16 tiles free"),
              std::string::npos)
        << e.what();
  }
  checked.arrive_and_wait();
  for (auto& t : apps) t.join();
  for (int a = 0; a < kApps; ++a) {
    ASSERT_EQ(errors[a], "") << "app " << a;
    ASSERT_EQ(got[a].size(), size_t(kRuns));
    for (int r = 0; r < kRuns; ++r) expect_same(got[a][r], alone[a][r], fmt::format("app {} run {}", a, r));
  }
  EXPECT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
  EXPECT_EQ(snd.status()["counts"]["served"], kApps);
}

// Waiting applications are served in their order of arrival; one that asks not to wait
// is refused at once with the reason.
TEST(Node, WaitingApplicationsAreServedInOrder) {
  test::SndProcess snd(OPENRDU_SND, test_dir(),
                       {"--rdus", "2", "--max-apps", "1", "--config", "tiny", "--backend", "func"});
  auto first = std::make_unique<Client>(snd.device());
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int i = 1; i <= 3; ++i) {
    waiters.emplace_back([&, i] {
      Client c(snd.device(), true, fmt::format("waiter{}", i));
      std::lock_guard lk(mu);
      order.push_back(i);
    });
    ASSERT_TRUE(eventually([&] { return snd.status()["counts"]["waiting"] == i; }));
  }
  try {
    Client refused(snd.device(), false);
    ADD_FAILURE() << "admitted beyond --max-apps 1";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("node busy: 1 of 1 applications running (--max-apps 1), 2 of 4 tiles free, "
                                         "3 waiting; send \"wait\": true to wait in line"),
              std::string::npos)
        << e.what();
  }
  first.reset();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// A client killed (SIGKILL) in the middle of its runs: the daemon frees its RDU and zeroes its
// DRAM, and a new application gets it at once, reads zeros, and runs bit-exact.
TEST(Node, KilledClientFreesItsResources) {
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "tiny", "--backend", "func"});
  ASSERT_TRUE(kill_mid_run(snd, [&] {
    Client c(snd.device(), true, "victim");
    c.session->load(mlp());
    for (int r = 0;; ++r) c.session->run(inputs_for(mlp(), 5, r % 3));
  }));
  EXPECT_NE(snd.log().find("(connection closed)"), std::string::npos);
  const auto alone = run_alone("func", 6, 1);
  Client c(snd.device(), false);  // refused if the RDU were still held
  // The killed tenant's weights and tensors (where the same PEF places them) were zeroed.
  for (const auto& t : mlp().tensors) {
    std::vector<uint8_t> bytes(t.bytes, 0xFF);
    c.dev->copy_from_device(bytes.data(), t.dev_addr, bytes.size());
    EXPECT_EQ(std::count(bytes.begin(), bytes.end(), 0), ptrdiff_t(bytes.size())) << "the previous tenant's " << t.name;
  }
  c.session->load(mlp());
  expect_same(c.session->run(inputs_for(mlp(), 5, 0)).outputs, alone[5][0], "after the kill");
}

// A daemon killed with SIGKILL leaves its socket file behind: the next one removes it and
// serves; its workers die with it; a second daemon on a live socket is refused; SIGTERM
// removes the socket.
TEST(Node, RestartLeavesNoStaleState) {
  const fs::path dir = test_dir();
  std::vector<int> worker_pids;
  {
    test::SndProcess snd(OPENRDU_SND, dir, {"--rdus", "2", "--config", "tiny", "--backend", "func"});
    const json st = snd.status();
    for (const auto& w : st["workers"]) worker_pids.push_back(w["pid"]);
    Client c(snd.device());  // held when the daemon dies
    snd.stop(SIGKILL);
  }
  ASSERT_EQ(worker_pids.size(), 2u);
  EXPECT_TRUE(fs::exists(dir / "snd.sock"));
  EXPECT_TRUE(eventually([&] {
    for (int p : worker_pids)
      if (::kill(p, 0) == 0) return false;
    return true;
  })) << "the workers outlived their daemon";
  const auto alone = run_alone("func", 1, 1);
  test::SndProcess snd(OPENRDU_SND, dir, {"--rdus", "2", "--config", "tiny", "--backend", "func"});
  EXPECT_NE(snd.log().find("removed the stale socket file"), std::string::npos);
  {
    Client c(snd.device(), false);
    c.session->load(mlp());
    expect_same(c.session->run(inputs_for(mlp(), 0, 0)).outputs, alone[0][0], "after the restart");
  }
  const std::string second = (dir / "second.stderr").string();
  const int rc = std::system(fmt::format("{} --socket {} --rdus 1 --config tiny --log-dir {} 2> {}", OPENRDU_SND,
                                         snd.socket(), dir.string(), second)
                                 .c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  EXPECT_EQ(test::SndProcess::read_file(second),
            fmt::format("snd: error: --socket {}: another daemon is listening there\n", snd.socket()));
  EXPECT_EQ(snd.status()["counts"]["served"], 1) << "the first daemon still serves";
  EXPECT_EQ(snd.stop(SIGTERM), 0);
  EXPECT_FALSE(fs::exists(dir / "snd.sock"));
}

// 1,000 short sessions in a loop (open, setup, teardown; every tenth also loads the MLP and
// runs it, bit-exact: with a run each, 1,000 took 34 s to 148 s on the loaded 2-core
// machine) leak no tile, DRAM window, descriptor or thread of the daemon or its worker.
TEST(Node, ThousandSessionsLeakNothing) {
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "2", "--config", "tiny", "--backend", "func"});
  const auto alone = run_alone("func", 1, 1);
  auto session = [&](int i) {
    Client c(snd.device(), false);
    if (i % 10) return;
    c.session->load(mlp());
    expect_same(c.session->run(inputs_for(mlp(), 0, 0)).outputs, alone[0][0], fmt::format("session {}", i));
  };
  // The daemon's descriptors and threads once the last connection's thread has gone (the
  // status requests of `eventually` come and go: the least count seen over a second).
  auto settled = [&](const char* what) {
    EXPECT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
    size_t n = SIZE_MAX;
    for (int i = 0; i < 20; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(50)))
      n = std::min(n, test::SndProcess::count_entries(snd.pid(), what));
    return n;
  };
  session(0);  // warm up
  const size_t fds = settled("fd"), threads = settled("task");
  const json st0 = snd.status();
  const pid_t worker = st0["workers"][0]["pid"];  // RDU 0: every session gets its tile
  const size_t worker_fds = test::SndProcess::count_entries(worker, "fd");
  const size_t worker_threads = test::SndProcess::count_entries(worker, "task");
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= 1000 && !HasFailure(); ++i) session(i);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("1000 sessions (100 with a load and a run) in %.2f s\n", s);
  EXPECT_EQ(settled("task"), threads);
  EXPECT_EQ(settled("fd"), fds);
  EXPECT_EQ(test::SndProcess::count_entries(worker, "fd"), worker_fds);
  EXPECT_EQ(test::SndProcess::count_entries(worker, "task"), worker_threads);
  const json st = snd.status();
  EXPECT_EQ(st["counts"]["served"], 1001);
  for (const auto& t : st["tiles"]) EXPECT_EQ(t["app"], 0) << st.dump();
  uint64_t sessions = 0;
  for (const auto& t : st["tiles"]) sessions += t["sessions"].get<uint64_t>();
  EXPECT_EQ(sessions, 2002u);  // a whole RDU of tiny: its 2 tiles
}

// Malformed or forbidden requests get one clear error each; the daemon keeps serving.
TEST(Node, MalformedRequestsGetAClearErrorAndTheDaemonRuns) {
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "tiny", "--backend", "func"});
  auto error_of = [](const std::optional<json>& r) {
    return r && !r->value("ok", true) ? r->value("error", "") : std::string("(no error reply)");
  };
  Raw r(snd.socket());
  EXPECT_EQ(error_of(r.send("hello\n")), "protocol error: not a JSON object: 'hello'");
  EXPECT_EQ(error_of(r.send("[1,2]\n")), "protocol error: a request is one JSON object per line, got '[1,2]'");
  EXPECT_EQ(error_of(r.send("{\"op\":\"status\"}\n")),
            "protocol error: request without \"version\" (this daemon speaks version 1)");
  EXPECT_EQ(error_of(r.send("{\"version\":2,\"op\":\"status\"}\n")),
            "protocol error: protocol version 2 is not supported (this daemon speaks version 1)");
  EXPECT_NE(error_of(r.send("{\"version\":1,\"op\":\"fly\"}\n")).find("unknown request \"fly\" (requests: ping"),
            std::string::npos);
  EXPECT_EQ(error_of(r.send("{\"version\":1,\"op\":\"read32\",\"offset\":0}\n")),
            "read32: no application open on this connection (send \"open\" first)");
  ASSERT_TRUE(r.send("{\"version\":1,\"op\":\"open\"}\n").value().value("ok", false));
  const std::string who = fmt::format("app 1 '' (pid {}, RDU 0 tiles 0-1): refused: ", ::getpid());
  EXPECT_EQ(error_of(r.send("{\"version\":1,\"op\":\"read32\",\"offset\":\"x\"}\n")),
            who + "read32: \"offset\" must be an unsigned integer up to 4294967295, got \"x\"");
  EXPECT_NE(error_of(r.send(fmt::format("{{\"version\":1,\"op\":\"write32\",\"offset\":{},\"value\":0}}\n",
                                        gen::reg::PROT_CTRL)))
                .find("(PROT_CTRL): the DRAM protection registers (PROT_*) belong to the node daemon"),
            std::string::npos);
  EXPECT_NE(error_of(r.send(fmt::format("{{\"version\":1,\"op\":\"write32\",\"offset\":{},\"value\":1}}\n",
                                        gen::reg::DMA_CTRL)))
                .find("the DMA engine's registers belong to the node daemon"),
            std::string::npos);
  EXPECT_NE(error_of(r.send("{\"version\":1,\"op\":\"copy_from_device\",\"addr\":18446744073709551615,"
                            "\"bytes\":16}\n"))
                .find("lies outside the application's window"),
            std::string::npos);
  EXPECT_EQ(error_of(r.send("{\"version\":1,\"op\":\"wait_irq\",\"vector\":1,\"timeout_s\":1}\n")),
            who + "wait_irq: vector 1 is the daemon's (DMA); an application waits on vector 0 (core)");
  EXPECT_EQ(error_of(r.send("{\"version\":1,\"op\":\"copy_to_device\",\"addr\":0,\"payload\":-1}\n")),
            "protocol error: \"payload\" must be a byte count from 0 to 67108864, got -1");
  EXPECT_FALSE(r.send("{\"version\":1,\"op\":\"ping\"}\n")) << "a fatal protocol error closes the connection";
  Raw big(snd.socket());
  EXPECT_EQ(error_of(big.send(std::string(100000, 'x'))),
            "protocol error: request line longer than 65536 bytes without a newline");
  // The daemon still serves, and the raw client's RDU was freed when its connection closed.
  ASSERT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
  EXPECT_EQ(snd.status()["counts"]["protocol_errors"], 7);
  const auto alone = run_alone("func", 1, 1);
  Client c(snd.device(), false);
  c.session->load(mlp());
  expect_same(c.session->run(inputs_for(mlp(), 0, 0)).outputs, alone[0][0], "after the malformed requests");
}

// A device error (a hung unit stopped by the watchdog) is reported to the application that
// caused it and logged to snd.log; the next application on that RDU runs bit-exact.
TEST(Node, DeviceErrorIsReportedAndLogged) {
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "tiny", "--backend", "func"});
  {
    driver::DeviceOptions o;
    o.app_name = "faulty";
    auto dev = driver::open_device(snd.device(), tiny(), o);
    runtime::SessionOptions so;
    so.fault = (1u << gen::reg::FAULT_KIND_SHIFT) | 0;  // hang: unit 0 never reports done
    so.watchdog_cycles = 5000;
    runtime::Session s(*dev, tiny(), so);
    s.load(mlp());
    try {
      s.run(inputs_for(mlp(), 0, 0));
      ADD_FAILURE() << "a hung unit ran to completion";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("WATCHDOG"), std::string::npos) << e.what();
    }
  }
  ASSERT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
  EXPECT_NE(snd.log().find("'faulty' (pid"), std::string::npos);
  EXPECT_NE(snd.log().find("device error ERR_STATUS=0x"), std::string::npos) << snd.log();
  EXPECT_GE(snd.status()["counts"]["device_errors"].get<int>(), 1);
  const auto alone = run_alone("func", 1, 1);
  Client c(snd.device(), false);
  c.session->load(mlp());
  expect_same(c.session->run(inputs_for(mlp(), 0, 0)).outputs, alone[0][0], "after the fault");
}

// Two applications at once on tiny's RTL, each bit-exact against its run alone on the RTL.
TEST(Node, TwoApplicationsOnTinyRtl) {
  const auto backends = driver::backends();
  if (std::find(backends.begin(), backends.end(), "verilator") == backends.end())
    GTEST_SKIP() << "no Verilated core in this build";
  const auto alone = run_alone("verilator", 2, 1);
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "2", "--config", "tiny", "--backend", "verilator"});
  std::barrier both(2);
  std::vector<Outputs> got(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> apps;
  for (int a = 0; a < 2; ++a)
    apps.emplace_back([&, a] {
      try {
        Client c(snd.device());
        c.session->load(mlp());
        both.arrive_and_wait();
        got[a] = c.session->run(inputs_for(mlp(), a, 0)).outputs;
      } catch (const std::exception& e) {
        errors[a] = e.what();
        both.arrive_and_drop();
      }
    });
  for (auto& t : apps) t.join();
  for (int a = 0; a < 2; ++a) {
    ASSERT_EQ(errors[a], "") << "app " << a;
    expect_same(got[a], alone[a][0], fmt::format("RTL app {}", a));
  }
}

// --- Tiles (issue 21): applications on tiles of shared RDUs ---------------------------

const arch::Config& plasticine() {
  static const arch::Config c = arch::load_config("plasticine");
  return c;
}

// The examples' elementwise model compiled for one tile of plasticine (sncompile --tiles 1).
const pef::Pef& one_tile() {
  static const pef::Pef p = [] {
    compiler::Options o;
    o.tiles = 1;
    return pef::parse(
        pef::serialize(compiler::compile_onnx_file(OPENRDU_EXAMPLES_DIR "/elementwise/model.onnx", plasticine(), o)),
        "elementwise");
  }();
  return p;
}

// `pef` with its first AGCU store stream's DRAM base moved by `by` bytes: a program that
// writes outside its window once loaded there.
pef::Pef store_moved(pef::Pef pef, uint32_t by) {
  namespace bits = gen::bits;
  for (auto& sec : pef.sections) {
    const auto units = arch::parse_bitstream(plasticine(), sec.bitstream);
    arch::UnitWords w;
    bool moved = false;
    for (uint32_t id = 0; id < units.size(); ++id) {
      if (std::all_of(units[id].begin(), units[id].end(), [](uint32_t x) { return x == 0; })) continue;
      w[id] = units[id];
      uint32_t* st = w[id].data() + bits::kAgcuStreamBase + 2 * bits::kAgcuStreamWords;  // st0
      if (!moved && plasticine().unit_kind(id) == arch::UnitKind::Agcu && (st[0] & 1u)) st[1] += by, moved = true;
    }
    sec.bitstream = arch::assemble_bitstream(plasticine(), w);
  }
  return pef;
}

// The examples' elementwise model compiled for two tiles of plasticine (sncompile --tiles 2).
const pef::Pef& two_tile() {
  static const pef::Pef p = [] {
    compiler::Options o;
    o.tiles = 2;
    return pef::parse(
        pef::serialize(compiler::compile_onnx_file(OPENRDU_EXAMPLES_DIR "/elementwise/model.onnx", plasticine(), o)),
        "elementwise-2tiles");
  }();
  return p;
}

// References run alone in-process on plasticine's functional model (one device per
// process: computed once) for applications 0..7: the one-tile PEF on tile 0, the two-tile
// PEF on tiles 0-1, and the whole-device compile (no tiles: the reference of both).
struct PlasticineRefs {
  std::vector<Outputs> one_tile, two_tile, whole;
  uint64_t dram_bytes = 0;
};
const PlasticineRefs& plasticine_refs() {
  static const PlasticineRefs refs = [] {
    PlasticineRefs r;
    auto dev = driver::open_device("func", plasticine(), {});
    r.dram_bytes = dev->info().dram_bytes;
    auto run_all = [&](const pef::Pef& pef, std::vector<uint32_t> tiles, std::vector<Outputs>& out) {
      runtime::SessionOptions o;
      o.tiles = std::move(tiles);
      o.protect_dram = false;
      runtime::Session s(*dev, plasticine(), o);
      s.load(pef);
      for (int a = 0; a < 8; ++a) out.push_back(s.run(inputs_for(pef, a, 0)).outputs);
    };
    run_all(one_tile(), {0}, r.one_tile);
    run_all(two_tile(), {0, 1}, r.two_tile);
    // A whole-device session after tiled ones on one device (the session clears their
    // tile interrupt enables: left set they would hold the core interrupt high).
    run_all(pef::parse(pef::serialize(
                           compiler::compile_onnx_file(OPENRDU_EXAMPLES_DIR "/elementwise/model.onnx", plasticine())),
                       "elementwise-whole"),
            {}, r.whole);
    return r;
  }();
  return refs;
}

// Outputs of the one-tile PEF run alone in-process on tile 0; `dram`: the device's DRAM bytes.
const std::vector<Outputs>& tile_alone(uint64_t* dram = nullptr) {
  if (dram) *dram = plasticine_refs().dram_bytes;
  return plasticine_refs().one_tile;
}

// One application on `tiles` tiles of the daemon (the session takes them from DeviceInfo).
struct TileClient {
  TileClient(const std::string& device, const std::string& name, uint32_t tiles = 1) {
    driver::DeviceOptions o;
    o.tiles = tiles;
    o.app_name = name;
    dev = driver::open_device(device, plasticine(), o);
    session = std::make_unique<runtime::Session>(*dev, plasticine());
  }
  std::unique_ptr<driver::Device> dev;
  std::unique_ptr<runtime::Session> session;
};

// `apps` one-tile applications at once (app `bad` runs `bad_pef` instead, -1: none):
// each opens, loads, waits for the others, runs; its outputs or its error.
void run_tiled(const std::string& device, int apps, int bad, const pef::Pef& bad_pef, std::vector<Outputs>& got,
               std::vector<std::string>& errors, std::vector<driver::DeviceInfo>& infos) {
  got.assign(apps, {}), errors.assign(apps, ""), infos.assign(apps, {});
  std::barrier all(apps);
  std::vector<std::thread> threads;
  for (int a = 0; a < apps; ++a)
    threads.emplace_back([&, a] {
      bool arrived = false;
      try {
        TileClient c(device, fmt::format("tile-app{}", a));
        infos[a] = c.dev->info();
        c.session->load(a == bad ? bad_pef : one_tile());
        all.arrive_and_wait();
        arrived = true;
        got[a] = c.session->run(inputs_for(one_tile(), a, 0)).outputs;
      } catch (const std::exception& e) {
        errors[a] = e.what();
        if (!arrived) all.arrive_and_drop();
      }
    });
  for (auto& t : threads) t.join();
}

// Issue 21's test: eight applications at once on a 2-RDU plasticine node (4 tiles each),
// PEFs compiled for one tile, each relocated onto its own tile and DRAM window; every
// output bit-exact to the same PEF run alone in-process.
TEST(NodeTiles, EightOneTileApplicationsOnTwoPlasticineRdus) {
  constexpr int kApps = 8;
  const auto& alone = tile_alone();
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "2", "--config", "plasticine", "--backend", "func"});
  EXPECT_EQ(snd.status()["node"]["tiles_per_rdu"], 4);
  std::vector<Outputs> got;
  std::vector<std::string> errors;
  std::vector<driver::DeviceInfo> infos;
  run_tiled(snd.device(), kApps, -1, one_tile(), got, errors, infos);
  std::set<std::pair<uint32_t, uint32_t>> placed;
  for (int a = 0; a < kApps; ++a) {
    ASSERT_EQ(errors[a], "") << "app " << a;
    ASSERT_EQ(infos[a].tiles.size(), 1u) << "app " << a;
    placed.insert({infos[a].rdu, infos[a].tiles[0]});
    expect_same(got[a], alone[a], fmt::format("app {} on RDU {} tile {}", a, infos[a].rdu, infos[a].tiles[0]));
  }
  EXPECT_EQ(placed.size(), 8u) << "every application on its own tile";
  const std::string log = snd.log();
  EXPECT_NE(log.find("RDU 1 tile 3 (1 tile(s))"), std::string::npos) << log;
}

// A crafted PEF whose store lands one window further (the next tile's DRAM) faults alone,
// its error naming the memory error and the AGCU; the three others on the same RDU finish,
// bit-exact, and the neighbour's window keeps its outputs.
TEST(NodeTiles, StoreOutsideItsWindowFaultsAlone) {
  constexpr int kApps = 4, kBad = 1;
  uint64_t dram = 0;
  const auto& alone = tile_alone(&dram);
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "plasticine", "--backend", "func"});
  const uint64_t window = dram / plasticine().num_tiles();  // docs/daemon.md: equal parts
  std::vector<Outputs> got;
  std::vector<std::string> errors;
  std::vector<driver::DeviceInfo> infos;
  run_tiled(snd.device(), kApps, kBad, store_moved(one_tile(), static_cast<uint32_t>(window)), got, errors, infos);
  for (int a = 0; a < kApps; ++a) {
    if (a == kBad) continue;
    ASSERT_EQ(errors[a], "") << "app " << a;
    expect_same(got[a], alone[a], fmt::format("app {} beside the faulty one", a));
  }
  EXPECT_NE(errors[kBad].find("MEM_ERROR"), std::string::npos) << errors[kBad];
  EXPECT_NE(errors[kBad].find("agcu"), std::string::npos) << errors[kBad];
  const std::string log = snd.log();
  EXPECT_NE(log.find("'tile-app1'"), std::string::npos) << log;
  EXPECT_NE(log.find("device error"), std::string::npos) << log;
}

// tiny's RTL through the daemon on tiles. tiny's two tiles are mirrored (tile 1 = tile 0
// flipped), and the compiler places a --tiles 1 program on tile 0, so two one-tile
// applications cannot both run on one tiny RDU: the first application (tile 0) runs ONNX's
// Relu node test compiled for one tile, equal to the suite's output and to the same PEF
// alone in-process on tiny's RTL, while the second holds tile 1 of the same RDU and its
// load is refused in one line (relocation onto the mirrored tile).
TEST(NodeTiles, OneTileApplicationsOnTinyRtl) {
  const auto backends = driver::backends();
  if (std::find(backends.begin(), backends.end(), "verilator") == backends.end())
    GTEST_SKIP() << "no Verilated core in this build";
  const std::string dir = std::string(OPENRDU_ONNX_TESTDATA) + "/test_relu";
  compiler::Options co;
  co.tiles = 1;
  const pef::Pef relu = compiler::compile_onnx_file(dir + "/model.onnx", tiny(), co);
  std::string in_name, out_name;
  const auto x = compiler::load_tensor_pb(dir + "/test_data_set_0/input_0.pb", &in_name);
  const auto y = compiler::load_tensor_pb(dir + "/test_data_set_0/output_0.pb", &out_name);
  const Inputs in{{in_name, {x.shape, x.data}}};
  Outputs alone;
  {
    driver::DeviceOptions d;
    d.timeout_s = 120;
    auto dev = driver::open_device("verilator", tiny(), d);
    runtime::SessionOptions o;
    o.tiles = {0};
    o.protect_dram = false;
    runtime::Session s(*dev, tiny(), o);
    s.load(relu);
    alone = s.run(in).outputs;
  }
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "tiny", "--backend", "verilator"});
  driver::DeviceOptions o;
  o.tiles = 1;
  o.app_name = "relu-tile0";
  auto dev0 = driver::open_device(snd.device(), tiny(), o);
  o.app_name = "relu-tile1";
  auto dev1 = driver::open_device(snd.device(), tiny(), o);
  ASSERT_EQ(dev0->info().tiles, std::vector<uint32_t>{0});
  ASSERT_EQ(dev1->info().tiles, std::vector<uint32_t>{1});
  runtime::Session s1(*dev1, tiny());
  try {
    s1.load(relu);
    ADD_FAILURE() << "a tile-0 program of tiny loaded onto its mirrored tile 1";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("relocation onto tiles 1"), std::string::npos) << e.what();
  }
  runtime::Session s0(*dev0, tiny());
  s0.load(relu);
  const Outputs got = s0.run(in).outputs;
  ASSERT_TRUE(got.count(out_name)) << out_name;
  EXPECT_EQ(got.at(out_name).data, y.data);
  expect_same(got, alone, "tile 0 of tiny's RTL through the daemon");
}

// Issue 21: a tenant's requests outside its allocation over the socket. Beside a one-tile
// application (tile 0) that has loaded its program, a second tenant (tile 1, a raw
// client) tries to abort tile 0, soft-reset the RDU, move its protection window, drive the
// DMA engine and write into tile 0's DRAM window: each reply is one error naming the
// register (or the DRAM range) and the tenant, each is logged to snd.log, and the first
// application then runs bit-exact.
TEST(NodeTiles, RefusedRequestsNameTheRegisterAndTheTenant) {
  namespace reg = gen::reg;
  const auto& alone = tile_alone();
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "plasticine", "--backend", "func"});
  TileClient victim(snd.device(), "victim");
  ASSERT_EQ(victim.dev->info().tiles, std::vector<uint32_t>{0});
  victim.session->load(one_tile());
  Raw intruder(snd.socket());
  const json opened = intruder.request({{"op", "open"}, {"name", "intruder"}, {"tiles", 1}});
  ASSERT_TRUE(opened.value("ok", false)) << opened.dump();
  ASSERT_EQ(opened["info"]["tiles"], json::array({1}));
  const std::string who =
      fmt::format("app {} 'intruder' (pid {}, RDU 0 tile 1): refused: ", opened["app"].get<int>(), ::getpid());
  auto write = [&](uint32_t offset, uint32_t value) {
    return intruder.request({{"op", "write32"}, {"offset", offset}, {"value", value}});
  };
  const uint64_t victim_base = victim.dev->info().dram_base;
  const std::vector<std::pair<json, std::string>> refused = {
      {write(reg::TILE_CTRL, 1u << 8),
       "write32: BAR0 0x7c (TILE_CTRL) value 0x100: bits of tiles not the application's"},
      {write(reg::CTRL, reg::CTRL_SOFT_RESET_MASK),
       "write32: BAR0 0x20 (CTRL): device-wide control belongs to the node"},
      {write(reg::PROT_LIMIT, 0), "write32: BAR0 0x104c (PROT_LIMIT): the DRAM protection registers (PROT_*) belong"},
      {write(reg::DMA_DEV_ADDR, 0), "write32: BAR0 0x1008 (DMA_DEV_ADDR): the DMA engine's registers belong"},
      {intruder.request({{"op", "copy_to_device"}, {"addr", victim_base}}, std::string(16, 'x')),
       fmt::format("copy_to_device: DRAM [0x{:x}, 0x{:x}) lies outside the application's window", victim_base,
                   victim_base + 16)},
      {intruder.request({{"op", "copy_from_device"}, {"addr", victim_base}, {"bytes", 16}}),
       fmt::format("copy_from_device: DRAM [0x{:x}, 0x{:x}) lies outside", victim_base, victim_base + 16)}};
  const std::string log = snd.log();
  for (const auto& [reply, what] : refused) {
    EXPECT_FALSE(reply.value("ok", true)) << what;
    EXPECT_EQ(reply.value("kind", ""), "refused") << reply.dump();
    EXPECT_EQ(reply.value("error", "").rfind(who + what, 0), 0u) << reply.dump();
    EXPECT_NE(log.find("[warning] " + who + what), std::string::npos) << what << "\n" << log;
  }
  EXPECT_EQ(intruder.request({{"op", "read32"}, {"offset", reg::ID}}).value("value", 0u), 0x52445530u)
      << "the refused tenant goes on";
  const nlohmann::json status = snd.status();  // a range-for over status()["apps"] would outlive the temporary
  for (const auto& a : status["apps"])
    EXPECT_EQ(a["errors"], a["name"] == "intruder" ? refused.size() : 0u) << a.dump();
  expect_same(victim.session->run(inputs_for(one_tile(), 0, 0)).outputs, alone[0], "the victim after the refusals");
}

// Issue 21: a PEF compiled with --tiles 2 through the daemon, on tiles 1-2 of a plasticine
// RDU between two one-tile applications (tiles 0 and 3), all running at once: each output
// equals the whole-device compile's (the reference) and its own PEF alone in-process.
TEST(NodeTiles, TwoTileApplicationBesideOneTileApplications) {
  const auto& refs = plasticine_refs();
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "plasticine", "--backend", "func"});
  const std::vector<uint32_t> tiles = {1, 2, 1};  // opened in this order: tiles 0, 1-2, 3
  std::vector<std::unique_ptr<TileClient>> apps;
  for (size_t a = 0; a < tiles.size(); ++a) {
    apps.push_back(std::make_unique<TileClient>(snd.device(), fmt::format("tiles{}-app{}", tiles[a], a), tiles[a]));
    apps.back()->session->load(tiles[a] == 2 ? two_tile() : one_tile());
  }
  EXPECT_EQ(apps[0]->dev->info().tiles, std::vector<uint32_t>{0});
  EXPECT_EQ(apps[1]->dev->info().tiles, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(apps[2]->dev->info().tiles, std::vector<uint32_t>{3});
  constexpr int kRuns = 3;
  std::vector<std::vector<Outputs>> got(apps.size());
  std::vector<std::string> errors(apps.size());
  std::vector<std::thread> threads;
  for (size_t a = 0; a < apps.size(); ++a)
    threads.emplace_back([&, a] {
      try {
        for (int r = 0; r < kRuns; ++r)
          got[a].push_back(apps[a]->session->run(inputs_for(one_tile(), (int(a) + 3 * r) % 8, 0)).outputs);
      } catch (const std::exception& e) {
        errors[a] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (size_t a = 0; a < apps.size(); ++a) {
    ASSERT_EQ(errors[a], "") << "app " << a;
    for (int r = 0; r < kRuns; ++r) {
      const int in = (int(a) + 3 * r) % 8;  // the references' inputs 0..7
      expect_same(got[a][r], refs.whole[in], fmt::format("app {} run {} against the whole-device compile", a, r));
      expect_same(got[a][r], (tiles[a] == 2 ? refs.two_tile : refs.one_tile)[in],
                  fmt::format("app {} run {} against its PEF alone", a, r));
    }
  }
  EXPECT_NE(snd.log().find("RDU 0 tile 1 (2 tile(s))"), std::string::npos) << snd.log();
}

// Issue 21: teardown zeroes the application's DRAM window, after a close and after the
// client was killed mid-run: the next tenant of the tile reads zeros where the previous
// one left its data (a pattern written by DMA, its program, tensors and outputs).
TEST(NodeTiles, TeardownZeroesTheWindow) {
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "plasticine", "--backend", "func"});
  constexpr uint64_t kHead = 64 << 10;         // the program's layout starts at the window's base
  const std::string pattern(8192 + 100, 'P');  // two whole pages and a part of one
  uint64_t base = 0;                           // the window of tile 0; the pattern goes near its end
  auto open_tile0 = [&](Raw& r, const char* name) {
    const json o = r.request({{"op", "open"}, {"name", name}, {"tiles", 1}});
    EXPECT_EQ(o["info"]["tiles"], json::array({0})) << o.dump();
    base = o["info"]["dram_base"].get<uint64_t>();
    return base + o["info"]["dram_bytes"].get<uint64_t>() - pattern.size() - 36;
  };
  auto read = [](Raw& r, uint64_t addr, uint64_t bytes) {
    const json rep = r.request({{"op", "copy_from_device"}, {"addr", addr}, {"bytes", bytes}});
    EXPECT_TRUE(rep.value("ok", false)) << rep.dump();
    return std::string(r.last.payload.begin(), r.last.payload.end());
  };
  {
    Raw first(snd.socket());
    const uint64_t at = open_tile0(first, "first");
    ASSERT_TRUE(first.request({{"op", "copy_to_device"}, {"addr", at}}, pattern).value("ok", false));
    ASSERT_EQ(read(first, at, pattern.size()), pattern) << "written";
    ASSERT_TRUE(first.request({{"op", "close"}}).value("ok", false));
    const uint64_t again = open_tile0(first, "second");
    EXPECT_EQ(read(first, at, pattern.size()), std::string(pattern.size(), '\0')) << "after a close";
    EXPECT_EQ(again, at);
  }
  ASSERT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
  ASSERT_TRUE(kill_mid_run(snd, [&] {
    TileClient c(snd.device(), "victim");
    c.dev->copy_to_device(pattern.data(), c.dev->info().dram_base + c.dev->info().dram_bytes - pattern.size() - 36,
                          pattern.size());
    c.session->load(one_tile());
    for (int r = 0;; ++r) c.session->run(inputs_for(one_tile(), r % 8, 0));
  }));
  Raw next(snd.socket());
  const uint64_t at = open_tile0(next, "next");
  EXPECT_EQ(read(next, at, pattern.size()), std::string(pattern.size(), '\0')) << "after the kill";
  EXPECT_EQ(read(next, base, kHead), std::string(kHead, '\0')) << "the killed tenant's program and tensors";
}

// A Relu of 16,384 elements compiled for one tile of plasticine: more cycles than the
// elementwise example's sections.
pef::Pef large_relu() {
  onnx::ModelProto m;
  auto* g = bench::start_model(m, "node_test", "relu");
  bench::add_node(g, "Relu", "relu", {"x"}, {"y"});
  bench::value_info(g->add_input(), "x", {16384});
  bench::value_info(g->add_output(), "y", {16384});
  const fs::path path = fs::path(OPENRDU_NODE_TEST_DIR) / "large_relu.onnx";
  fs::create_directories(path.parent_path());
  {
    std::ofstream f(path, std::ios::binary);
    m.SerializeToOstream(&f);
  }
  compiler::Options co;
  co.tiles = 1;
  return compiler::compile_onnx_file(path.string(), plasticine(), co);
}

// Issue 21: device-wide registers on a shared RDU. Two tenants of one plasticine RDU run
// different programs (tile 0: the elementwise example; tile 1: a Relu of 16,384 elements), then
// the first reads, through its own connection: CYCLES = its tiles' last run (not the
// other's, which started last), 0 in the counters that mix both tenants' traffic, its own
// PERF_UNIT selection and that unit's counters though the other selected another unit
// since, its own DMA byte counts; WATCHDOG and FAULT keep the daemon's values (a write of
// another value is refused in one line), and a PERF_UNIT of the other's tile is refused.
// status reports each tile's run cycles.
TEST(NodeTiles, DeviceWideRegistersOfASharedRdu) {
  namespace reg = gen::reg;
  const pef::Pef relu = large_relu();
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "plasticine", "--backend", "func"});
  TileClient a(snd.device(), "first"), b(snd.device(), "second");
  a.session->load(one_tile());
  b.session->load(relu);
  const runtime::RunResult ra = a.session->run(inputs_for(one_tile(), 0, 0));
  const runtime::RunResult rb = b.session->run(inputs_for(relu, 0, 0));
  ASSERT_NE(ra.sections.back().cycles, rb.sections.back().cycles) << "the two programs must differ in cycles";
  driver::Device& d = *a.dev;
  EXPECT_EQ(d.read32(reg::CYCLES_LO), ra.sections.back().cycles) << "CYCLES: the tenant's own last run";
  EXPECT_EQ(d.read32(reg::CYCLES_HI), 0u);
  EXPECT_EQ(ra.counters.run_cycles, ra.total_cycles) << "the session's counters read its tiles' cycles";
  for (uint32_t r : {reg::MEM_RD_REQS, reg::MEM_RD_BYTES, reg::MEM_WR_BYTES, reg::DRAM_CH_RD_BYTES})
    EXPECT_EQ(d.read32(r), 0u) << gen::reg::reg_name(r) << " mixes the tenants' traffic";
  // PERF_UNIT: per tenant, a unit of its own tile only.
  uint32_t mine = 0, theirs = 0;
  for (const auto& u : ra.counters.units)
    if (u.active && plasticine().tile_of(u.id) == 0) mine = u.id;
  for (uint32_t id = 0; id < plasticine().num_slots(); ++id)
    if (plasticine().tile_of(id) == 1) theirs = id;
  ASSERT_NE(ra.counters.units.at(mine).active, 0u);
  d.write32(reg::PERF_UNIT, mine);
  b.dev->write32(reg::PERF_UNIT, theirs);
  EXPECT_EQ(d.read32(reg::PERF_UNIT), mine);
  // The last section's counters of that unit (its run span, as the session read them).
  const std::string unit = plasticine().unit_name(mine).substr(0, plasticine().unit_name(mine).find(' '));
  uint64_t last = 0;
  for (const auto& span : ra.spans)
    if (span.track == "run")
      for (const auto& [k, val] : span.num_args)
        if (k == unit + " active") last = val;
  ASSERT_GT(last, 0u) << unit;
  EXPECT_EQ(d.read32(reg::PERF_ACTIVE), last) << unit;
  auto refusal = [&](uint32_t offset, uint32_t value) {
    try {
      d.write32(offset, value);
      return std::string("(accepted)");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  };
  EXPECT_NE(refusal(reg::PERF_UNIT, theirs)
                .find(fmt::format("(PERF_UNIT) value {}: {} is not a unit of the application's tiles (mask 0x1)",
                                  theirs, plasticine().unit_name(theirs))),
            std::string::npos)
      << refusal(reg::PERF_UNIT, theirs);
  EXPECT_NE(refusal(reg::WATCHDOG, 5000)
                .find("(WATCHDOG) value 5000: the watchdog is device-wide; on a shared RDU the "
                      "node daemon holds it at 100000000 cycles"),
            std::string::npos)
      << refusal(reg::WATCHDOG, 5000);
  EXPECT_NE(
      refusal(reg::FAULT, 1u << reg::FAULT_KIND_SHIFT).find("(FAULT) value 0x10000: fault injection is device-wide"),
      std::string::npos);
  EXPECT_EQ(refusal(reg::WATCHDOG, 100'000'000), "(accepted)") << "the value held";
  EXPECT_EQ(refusal(reg::FAULT, 0), "(accepted)");
  EXPECT_EQ(d.read32(reg::WATCHDOG), 100'000'000u);
  EXPECT_EQ(d.read32(reg::FAULT), 0u);
  const json st = snd.status();
  for (const auto& app : st["apps"]) {
    driver::Device& dev = app["name"] == "first" ? d : *b.dev;
    EXPECT_EQ(dev.read32(reg::DMA_H2D_BYTES), app["dma_h2d_bytes"]) << app.dump();
    EXPECT_EQ(dev.read32(reg::DMA_D2H_BYTES), app["dma_d2h_bytes"]) << app.dump();
  }
  a.session.reset(), a.dev.reset(), b.session.reset(), b.dev.reset();
  ASSERT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
  const json tiles = snd.status()["tiles"];
  EXPECT_EQ(tiles[0]["run_cycles"], ra.total_cycles) << tiles.dump();
  EXPECT_EQ(tiles[1]["run_cycles"], rb.total_cycles) << tiles.dump();
}

}  // namespace
}  // namespace openrdu
