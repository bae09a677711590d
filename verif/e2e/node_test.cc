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
#include <mutex>
#include <random>
#include <set>
#include <thread>

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
    driver::wire::Message m;
    try {
      if (!c.read(m)) return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
    return m.head;
  }
  driver::wire::Conn c;
};

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

// A client killed (SIGKILL) in the middle of its runs: the daemon frees its RDU, and a new
// application gets it at once and runs bit-exact.
TEST(Node, KilledClientFreesItsResources) {
  test::SndProcess snd(OPENRDU_SND, test_dir(), {"--rdus", "1", "--config", "tiny", "--backend", "func"});
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      Client c(snd.device(), true, "victim");
      c.session->load(mlp());
      for (int r = 0;; ++r) c.session->run(inputs_for(mlp(), 5, r % 3));
    } catch (...) {
    }
    ::_exit(1);
  }
  ASSERT_TRUE(eventually([&] {
    const json st = snd.status();
    return st["apps"].size() == 1 && st["apps"][0]["starts"].get<uint64_t>() >= 3;
  }));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(eventually([&] { return snd.status()["counts"]["active"] == 0; }));
  EXPECT_NE(snd.log().find("(connection closed)"), std::string::npos);
  const auto alone = run_alone("func", 6, 1);
  Client c(snd.device(), false);  // refused if the RDU were still held
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
  EXPECT_EQ(error_of(r.send("{\"version\":1,\"op\":\"read32\",\"offset\":\"x\"}\n")),
            "read32: \"offset\" must be an unsigned integer up to 4294967295, got \"x\"");
  EXPECT_NE(error_of(r.send(fmt::format("{{\"version\":1,\"op\":\"write32\",\"offset\":{},\"value\":0}}\n",
                                        gen::reg::PROT_CTRL)))
                .find("the DRAM protection registers belong to the node daemon"),
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
            "wait_irq: wait_irq: vector 1 is the daemon's (DMA); an application waits on vector 0 (core)");
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

// Outputs of the one-tile PEF run alone in-process on tile 0 of plasticine's functional model.
// Applications 0..7 (one device per process: computed once); `dram`: the device's DRAM bytes.
const std::vector<Outputs>& tile_alone(uint64_t* dram = nullptr) {
  static uint64_t bytes = 0;
  static const std::vector<Outputs> out = [] {
    auto dev = driver::open_device("func", plasticine(), {});
    bytes = dev->info().dram_bytes;
    runtime::SessionOptions o;
    o.tiles = {0};
    o.protect_dram = false;
    runtime::Session s(*dev, plasticine(), o);
    s.load(one_tile());
    std::vector<Outputs> v;
    for (int a = 0; a < 8; ++a) v.push_back(s.run(inputs_for(one_tile(), a, 0)).outputs);
    return v;
  }();
  if (dram) *dram = bytes;
  return out;
}

// One application on `tiles` tiles of the daemon (the session takes them from DeviceInfo).
struct TileClient {
  TileClient(const std::string& device, const std::string& name) {
    driver::DeviceOptions o;
    o.tiles = 1;
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

}  // namespace
}  // namespace openrdu
