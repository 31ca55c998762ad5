// wwctl peer new / peer config (issue 9): the Peer document holds only the public key, the
// config file is 0600 and a complete wg-quick config, the terminal QR code and the PNG encode
// exactly that config (the PNG is decoded by zbarimg), `peer config` rebuilds the same file,
// and against a real reconciler (HttpsServer + FleetService + SQLite behind a recording
// mutual-TLS front) the private key reaches no request, no database byte and no document.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/qr_code.h"
#include "reconciler/api/https_server.h"
#include "reconciler/client/api_client.h"
#include "reconciler/pki/wireguard_keys.h"
#include "reconciler/server/bootstrap.h"
#include "reconciler/server/fleet_service.h"
#include "schema/yaml_writer.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/test_files.h"
#include "tests/support/test_values.h"
#include "tests/unit/cli/wwctl_in_process.h"

namespace ww::cli {
namespace {

namespace fs = std::filesystem;
using Run = InProcessRun;
using test_support::ReadText;
using test_support::TemporaryDirectory;
using test_support::UnixNow;
using test_support::YamlBlock;

// A tunnel whose server agent is vps and a gateway with a LAN (shared with tests/e2e/peer_test.sh).
const std::string kTunnel = ReadText(std::string(WW_SOURCE_DIR) + "/tests/testdata/peer/tunnel.yaml");

// 32 bytes of 0x01: the server agent's WireGuard key in these tests.
const std::string kServerKey = test_support::Key(1).ToBase64();

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

Run Wwctl(std::vector<std::string> args, const std::string& input = "") {
  return RunWwctlInProcess(std::move(args), input);
}

// "Key = value" of a wg-quick config; "Section.Key" names.
std::map<std::string, std::string> ConfigFields(const std::string& config) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(config);
  std::string line;
  std::string section;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (line.front() == '[') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    size_t equals = line.find(" = ");
    REQUIRE_MESSAGE(equals != std::string::npos, line);
    CHECK_MESSAGE(fields.emplace(section + "." + line.substr(0, equals), line.substr(equals + 3)).second, line);
  }
  return fields;
}

// The public key that belongs to the config's private key.
std::string PublicKeyOf(const std::string& config) {
  Result<WireguardKey> private_key = WireguardKey::Parse(ConfigFields(config).at("Interface.PrivateKey"));
  REQUIRE(private_key.ok());
  Result<WireguardKey> public_key = WireguardPublicKeyFromPrivate(*private_key);
  REQUIRE(public_key.ok());
  return public_key->ToBase64();
}

int Mode(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return static_cast<int>(info.st_mode & 07777);
}

// The modules a terminal rendering shows, quiet zone included, read back from its blocks.
std::vector<std::vector<bool>> ModulesFromTerminal(const std::string& text) {
  std::vector<std::vector<bool>> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<bool> top;
    std::vector<bool> bottom;
    for (size_t i = 0; i < line.size();) {
      if (line.compare(i, 3, "\u2588") == 0) {
        top.push_back(true), bottom.push_back(true), i += 3;
      } else if (line.compare(i, 3, "\u2580") == 0) {
        top.push_back(true), bottom.push_back(false), i += 3;
      } else if (line.compare(i, 3, "\u2584") == 0) {
        top.push_back(false), bottom.push_back(true), i += 3;
      } else if (line[i] == ' ') {
        top.push_back(false), bottom.push_back(false), i += 1;
      } else {
        FAIL("unexpected byte in the QR rendering: " << static_cast<int>(static_cast<unsigned char>(line[i])));
      }
    }
    rows.push_back(top);
    rows.push_back(bottom);
  }
  return rows;
}

// Every chunk of a PNG with its CRC checked; IDAT inflated. Fails the test on anything invalid.
struct DecodedPng {
  uint32_t width = 0;
  uint32_t height = 0;
  std::string pixels;  // filter byte + row, per row
  std::vector<std::string> chunk_types;
};

uint32_t BigEndian(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes.at(at + i));
  return value;
}

DecodedPng DecodePng(const std::string& png) {
  DecodedPng decoded;
  REQUIRE(png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  std::string idat;
  for (size_t at = 8; at < png.size();) {
    uint32_t length = BigEndian(png, at);
    std::string type = png.substr(at + 4, 4);
    std::string typed_data = png.substr(at + 4, 4 + length);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(typed_data.data()),
                      static_cast<uInt>(typed_data.size()));
    CHECK_MESSAGE(BigEndian(png, at + 8 + length) == static_cast<uint32_t>(crc), "CRC of " << type);
    decoded.chunk_types.push_back(type);
    if (type == "IHDR") {
      decoded.width = BigEndian(png, at + 8);
      decoded.height = BigEndian(png, at + 12);
      CHECK(png.substr(at + 16, 5) == std::string("\x08\x00\x00\x00\x00", 5));  // 8-bit gray, no interlace
    }
    if (type == "IDAT") idat += png.substr(at + 8, length);
    at += 12 + length;
  }
  decoded.pixels.resize(static_cast<size_t>(decoded.height) * (decoded.width + 1));
  uLongf size = decoded.pixels.size();
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(decoded.pixels.data()), &size,
                     reinterpret_cast<const Bytef*>(idat.data()), idat.size()) == Z_OK);
  CHECK(size == decoded.pixels.size());
  return decoded;
}

// zbarimg (Debian zbar-tools, a test dependency): what a phone's camera would read.
std::string ScanQrPng(const std::string& path) {
  std::string command = "zbarimg --quiet --raw '" + path + "' 2>/dev/null";  // stderr: D-Bus noise
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  char buffer[4096];
  while (size_t count = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, count);
  int status = ::pclose(pipe);
  REQUIRE_MESSAGE(status == 0, "zbarimg failed (install zbar-tools: make deps): " << text);
  return text;
}

// A fleet directory and the keys file of offline use.
struct OfflineFleet {
  TemporaryDirectory directory{"ww-peer"};
  std::string fleet = directory.File("fleet");
  std::string keys = directory.File("keys.yaml");
  OfflineFleet() {
    WriteFile(fleet + "/tunnel.yaml", kTunnel);
    WriteFile(keys, "vps: " + kServerKey + "\ngw: " + test_support::Key(2).ToBase64() + "\n");
  }
  std::string File(std::string_view name) const { return directory.File(name); }
};

TEST_CASE("peer new offline: the Peer document has only the public key, the config is 0600 and complete") {
  OfflineFleet setup;
  const std::string config_path = setup.File("phone.conf");
  const std::string png_path = setup.File("phone.png");
  Run made = Wwctl({"peer", "new", "phone", "--tunnel", "vps", "--dns", "192.168.50.2,1.1.1.1", "-f", setup.fleet,
                    "--keys", setup.keys, "--wg-config", config_path, "--qr", "utf8", "--qr-png", png_path});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  const std::string config = ReadText(config_path);
  CHECK(Mode(config_path) == 0600);
  CHECK(Mode(png_path) == 0600);
  const std::string public_key = PublicKeyOf(config);
  const std::string private_key = ConfigFields(config).at("Interface.PrivateKey");

  // The document to commit: public key, a pinned address, the DNS servers; no secret.
  CHECK(made.out == "# Peer phone of Tunnel/vps, made by wwctl peer new: commit it to the fleet repository.\n"
                    "---\n"
                    "apiVersion: wirewarp.dev/v1\n"
                    "kind: Peer\n"
                    "metadata:\n"
                    "  name: phone\n"
                    "spec:\n"
                    "  tunnel: vps\n"
                    "  publicKey: " + YamlString(public_key) + "\n"
                    "  address: 10.77.0.3\n"
                    "  dns:\n"
                    "    - 192.168.50.2\n"
                    "    - 1.1.1.1\n");
  CHECK(made.out.find(private_key) == std::string::npos);
  CHECK(made.err.find(private_key) == std::string::npos);

  CHECK(ConfigFields(config) == std::map<std::string, std::string>{
                                    {"Interface.PrivateKey", private_key},
                                    {"Interface.Address", "10.77.0.3/32"},
                                    {"Interface.DNS", "192.168.50.2, 1.1.1.1"},
                                    {"Interface.MTU", "1420"},
                                    {"Peer.PublicKey", kServerKey},
                                    {"Peer.Endpoint", "203.0.113.10:51820"},
                                    {"Peer.AllowedIPs", "10.77.0.0/24, 192.168.50.0/24"},
                                    {"Peer.PersistentKeepalive", "25"},
                                });

  // The terminal QR code is exactly the code of the config, with a light quiet zone.
  Result<QrCode> expected = QrCode::Encode(config);
  REQUIRE(expected.ok());
  std::string terminal = made.err.substr(0, made.err.find("Wrote "));
  std::vector<std::vector<bool>> shown = ModulesFromTerminal(terminal);
  const int quiet = QrCode::kTerminalQuietZone;
  const int side = expected->width() + 2 * quiet;
  REQUIRE(static_cast<int>(shown.size()) >= side);
  for (int y = 0; y < side; ++y) {
    REQUIRE(static_cast<int>(shown[static_cast<size_t>(y)].size()) == side);
    for (int x = 0; x < side; ++x) {
      bool inside = x >= quiet && y >= quiet && x < side - quiet && y < side - quiet;
      bool dark = inside && expected->Dark(x - quiet, y - quiet);
      CHECK_MESSAGE(shown[static_cast<size_t>(y)][static_cast<size_t>(x)] == dark, "module " << x << "," << y);
    }
  }

  // The PNG is well formed and a QR reader gets the config back from it.
  DecodedPng png = DecodePng(ReadText(png_path));
  CHECK(png.chunk_types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  CHECK(png.width == static_cast<uint32_t>((expected->width() + 2 * QrCode::kPngQuietZone) * 8));
  CHECK(png.height == png.width);
  CHECK(ScanQrPng(png_path) == config + "\n");

  // peer config builds the same file again from the fleet and the key (here: the config itself).
  WriteFile(setup.fleet + "/phone.yaml", made.out);
  Run again = Wwctl({"peer", "config", "phone", "--private-key-file", config_path, "-f", setup.fleet, "--keys",
                     setup.keys});
  REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  CHECK(again.out == config);
  CHECK(again.err.empty());  // --qr none by default
  // ... or from the bare key, as `wg genkey` writes one, on stdin.
  Run from_stdin = Wwctl({"peer", "config", "phone", "--private-key-file", "-", "-f", setup.fleet, "--keys",
                          setup.keys, "--allowed-ips", "0.0.0.0/0"},
                         private_key + "\n");
  REQUIRE_MESSAGE(from_stdin.exit_code == 0, from_stdin.err);
  CHECK(ConfigFields(from_stdin.out).at("Peer.AllowedIPs") == "0.0.0.0/0");
}

TEST_CASE("peer new and peer config refuse what would leak or lose a key") {
  OfflineFleet setup;
  const std::string config_path = setup.File("phone.conf");
  const std::vector<std::string> offline = {"-f", setup.fleet, "--keys", setup.keys};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), offline.begin(), offline.end());
    return Wwctl(args);
  };

  // An existing file is never overwritten (it may be another device's key).
  WriteFile(config_path, "[Interface]\nPrivateKey = keep me\n");
  Run exists = with({"peer", "new", "phone", "--tunnel", "vps", "--wg-config", config_path, "--qr", "none"});
  CHECK(exists.exit_code == 2);
  CHECK(exists.err == "wwctl: error: --wg-config: \"" + config_path +
                          "\" already exists; move it away or choose another path\n");
  CHECK(exists.out.empty());
  CHECK(ReadText(config_path) == "[Interface]\nPrivateKey = keep me\n");
  fs::remove(config_path);

  Run unknown_tunnel = with({"peer", "new", "phone", "--tunnel", "vsp", "--wg-config", config_path});
  CHECK(unknown_tunnel.exit_code == 1);
  CHECK(unknown_tunnel.err == "wwctl: error: Tunnel \"vsp\" is not in the fleet files (tunnels: vps)\n");
  CHECK_FALSE(fs::exists(config_path));

  Run taken = with({"peer", "new", "gw", "--tunnel", "vps", "--wg-config", config_path});
  CHECK(taken.exit_code == 1);
  CHECK(taken.err.find("wwctl: error: Peer/gw already exists (" + setup.fleet + "/tunnel.yaml:") == 0);

  Run no_key = Wwctl({"peer", "new", "phone", "--tunnel", "vps", "-f", setup.fleet, "--wg-config", config_path});
  CHECK(no_key.exit_code == 1);
  CHECK(no_key.err == "wwctl: error: the WireGuard public key of agent \"vps\" (the server of Tunnel/vps) is "
                      "unknown: enroll that agent first, or offline pass it in --keys\n");

  Run taken_address = with({"peer", "new", "phone", "--tunnel", "vps", "--address", "10.77.0.2", "--wg-config",
                            config_path, "--qr", "none"});
  CHECK(taken_address.exit_code == 1);
  CHECK(taken_address.err.find("spec.address") != std::string::npos);
  CHECK(taken_address.err.find("nothing written") != std::string::npos);
  CHECK_FALSE(fs::exists(config_path));

  Run bad_dns = with({"peer", "new", "phone", "--tunnel", "vps", "--dns", "1.1.1", "--wg-config", config_path});
  CHECK(bad_dns.exit_code == 2);
  CHECK(bad_dns.err == "wwctl: error: --dns: \"1.1.1\" is not an IPv4 address\n");

  // peer config: the key must be the Peer's.
  Run made = with({"peer", "new", "phone", "--tunnel", "vps", "--wg-config", config_path, "--qr", "none"});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  WriteFile(setup.fleet + "/phone.yaml", made.out);
  Result<WireguardKeyPair> other = GenerateWireguardKeyPair();
  REQUIRE(other.ok());
  WriteFile(setup.File("other.key"), other->private_key.ToBase64() + "\n");
  Run wrong = with({"peer", "config", "phone", "--private-key-file", setup.File("other.key")});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err == "wwctl: error: the private key in \"" + setup.File("other.key") + "\" belongs to public key " +
                         other->public_key.ToBase64() + ", but Peer/phone has " + PublicKeyOf(ReadText(config_path)) +
                         "\n");
  CHECK(wrong.out.empty());
  WriteFile(setup.File("garbage.key"), "not a key at all\n");
  Run garbage = with({"peer", "config", "phone", "--private-key-file", setup.File("garbage.key")});
  CHECK(garbage.exit_code == 2);
  CHECK(garbage.err.find("holds no WireGuard private key") != std::string::npos);
  CHECK(garbage.err.find("not a key at all") == std::string::npos);
  Run managed = with({"peer", "config", "gw", "--private-key-file", config_path});
  CHECK(managed.exit_code == 1);
  CHECK(managed.err == "wwctl: error: Peer/gw is managed by agent \"gw\", which configures itself\n");
}

// ---- Against a real reconciler. -------------------------------------------------------------

struct Recorded {
  std::string method;
  std::string path;
  std::string body;
};

// The reconciler (real store, CA, FleetService on its own HttpsServer) behind a recording
// front: wwctl talks mutual TLS to the front, which records each request and passes it on
// with the admin's certificate. Nothing of the reconciler is stubbed.
class ReconcilerWithRecorder {
 public:
  ReconcilerWithRecorder() {
    Result<Bootstrap> opened = Bootstrap::Open(directory_.File("data"), "https://127.0.0.1:1", UnixNow());
    REQUIRE(opened.ok());
    bootstrap_ = std::move(opened).value();
    backend_ = NewServer();
    FleetServiceOptions service_options;
    service_options.now = [] { return UnixNow(); };
    service_ = std::make_unique<FleetService>(*bootstrap_.store, *bootstrap_.ca, *backend_, revoked_, service_options);
    REQUIRE(service_->Start().ok());
    Result<int> backend_port = backend_->Start("127.0.0.1", 0);
    REQUIRE(backend_port.ok());

    const std::string admin_yaml = ReadText(bootstrap_.admin_config_path);
    Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(
        ApiClientOptions{"https://127.0.0.1:" + std::to_string(*backend_port), bootstrap_.ca->CertificatePem(),
                         YamlBlock(admin_yaml, "clientCertificate"), YamlBlock(admin_yaml, "clientKey")});
    REQUIRE(client.ok());
    to_backend_ = std::move(client).value();

    front_ = NewServer();
    RouteOptions upload;
    upload.max_body = kRevisionMaxBody;
    for (const auto& [method, pattern] : std::vector<std::pair<HttpMethod, std::string>>{
             {HttpMethod::kGet, "/v1/status"},
             {HttpMethod::kGet, "/v1/revisions"},
             {HttpMethod::kGet, "/v1/revisions/([0-9]{1,18})"},
             {HttpMethod::kPost, "/v1/revisions"}}) {
      REQUIRE(front_->Route(method, pattern, upload, Forwarder()).ok());
    }
    Result<int> front_port = front_->Start("127.0.0.1", 0);
    REQUIRE(front_port.ok());
    WriteFile(config_path_, test_support::WithServerUrl(admin_yaml, "https://127.0.0.1:" + std::to_string(*front_port)));
    ::chmod(config_path_.c_str(), 0600);
  }
  ~ReconcilerWithRecorder() { Stop(); }

  void Stop() {
    if (front_) front_->Stop();
    if (backend_) backend_->Stop();
    if (service_) service_->Stop();
  }

  // The server agent, as enrollment records it.
  void EnrollServer(const std::string& name) {
    AgentRecord agent{name, name, AgentRole::kServer, test_support::Key(1), name, "0.1.0", UnixNow(), std::nullopt};
    REQUIRE(bootstrap_.store->InsertAgent(agent).ok());
    REQUIRE(service_->AgentEnrolled(name).ok());
  }

  std::vector<Recorded> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  const std::string& config_path() const { return config_path_; }
  std::string data_dir() const { return directory_.File("data"); }
  std::string File(std::string_view name) const { return directory_.File(name); }

 private:
  std::unique_ptr<HttpsServer> NewServer() {
    HttpsServerOptions options;
    options.server_certificate_pem = bootstrap_.server_certificate_pem;
    options.server_private_key_pem = bootstrap_.server_private_key_pem;
    options.worker_threads = 4;
    Result<std::unique_ptr<HttpsServer>> server = HttpsServer::Create(*bootstrap_.ca, std::move(options));
    REQUIRE(server.ok());
    return std::move(server).value();
  }

  RouteHandler Forwarder() {
    return [this](const HttpRequest& request) {
      std::string path = request.path;
      for (size_t i = 0; i < request.query.size(); ++i) {
        path += (i == 0 ? "?" : "&") + request.query[i].first + "=" + request.query[i].second;
      }
      std::lock_guard lock(mutex_);
      requests_.push_back(Recorded{request.method, path, request.body});
      Result<ApiResponse> answer =
          request.method == "GET" ? to_backend_->Get(path) : to_backend_->Post(path, request.body);
      if (!answer.ok()) return HttpResponse{502, "application/json", R"({"error": "backend unreachable"})"};
      return HttpResponse{answer->status, "application/json", answer->body};
    };
  }

  TemporaryDirectory directory_{"ww-peer-remote"};
  std::string config_path_ = directory_.File("wwctl.yaml");
  Bootstrap bootstrap_;
  RevokedSerials revoked_;
  std::unique_ptr<HttpsServer> backend_;
  std::unique_ptr<FleetService> service_;
  std::unique_ptr<HttpsServer> front_;
  mutable std::mutex mutex_;
  std::unique_ptr<ApiClient> to_backend_;  // GUARDED_BY(mutex_)
  std::vector<Recorded> requests_;         // GUARDED_BY(mutex_)
};

// Every file under `directory`, whole (the SQLite database, its WAL, the CA's files, ...).
std::string AllBytesUnder(const std::string& directory) {
  std::string bytes;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(directory)) {
    if (entry.is_regular_file()) bytes += ReadText(entry.path().string());
  }
  return bytes;
}

TEST_CASE("peer new against the reconciler: the private key reaches no request, database row or document") {
  ReconcilerWithRecorder reconciler;
  const std::string fleet = reconciler.File("fleet");
  WriteFile(fleet + "/tunnel.yaml", kTunnel);
  const std::vector<std::string> remote = {"--config", reconciler.config_path()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), remote.begin(), remote.end());
    return Wwctl(args);
  };

  Run no_revision = with({"peer", "new", "phone", "--tunnel", "vps", "--wg-config", reconciler.File("x.conf")});
  CHECK(no_revision.exit_code == 1);
  CHECK(no_revision.err.find("the reconciler has no revision yet") != std::string::npos);
  REQUIRE(with({"apply", "-f", fleet}).exit_code == 0);
  Run not_enrolled = with({"peer", "new", "phone", "--tunnel", "vps", "--wg-config", reconciler.File("x.conf")});
  CHECK(not_enrolled.exit_code == 1);
  CHECK(not_enrolled.err.find("agent \"vps\" (the server of Tunnel/vps) is unknown: enroll that agent first") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(reconciler.File("x.conf")));
  reconciler.EnrollServer("vps");

  const std::string config_path = reconciler.File("phone.conf");
  Run made = with({"peer", "new", "phone", "--tunnel", "vps", "--dns", "192.168.50.2", "--wg-config", config_path,
                   "--qr-png", reconciler.File("phone.png")});
  REQUIRE_MESSAGE(made.exit_code == 0, made.err);
  const std::string config = ReadText(config_path);
  const std::string private_key = ConfigFields(config).at("Interface.PrivateKey");
  CHECK(ConfigFields(config).at("Peer.PublicKey") == kServerKey);
  CHECK(ConfigFields(config).at("Interface.Address") == "10.77.0.3/32");
  CHECK(made.out.find("publicKey: " + YamlString(PublicKeyOf(config)) + "\n") != std::string::npos);
  CHECK(made.err.find("\x1b[30;47m") != std::string::npos);  // the default terminal QR code: ANSI

  // Commit the document, as the user would, and let the reconciler take it.
  WriteFile(fleet + "/phone.yaml", made.out);
  Run applied = with({"apply", "-f", fleet});
  REQUIRE_MESSAGE(applied.exit_code == 0, applied.err);
  Run rebuilt = with({"peer", "config", "phone", "--private-key-file", config_path});
  REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.err);
  CHECK(rebuilt.out == config);
  Run get = with({"get", "peers", "-o", "json"});
  REQUIRE(get.exit_code == 0);
  CHECK(get.out.find("\"managed\": false") != std::string::npos);
  reconciler.Stop();

  // The proof: not in any request (method, path or body), not anywhere in the data
  // directory (SQLite database and WAL: revisions, events, ...), not in the Peer document.
  std::vector<Recorded> requests = reconciler.requests();
  CHECK(requests.size() >= 6);
  bool uploaded_phone = false;
  for (const Recorded& request : requests) {
    CAPTURE(request.method + " " + request.path);
    CHECK(request.path.find(private_key) == std::string::npos);
    CHECK(request.body.find(private_key) == std::string::npos);
    uploaded_phone = uploaded_phone || request.body.find(PublicKeyOf(config)) != std::string::npos;
    // peer new and peer config only read.
    if (request.method == "POST") CHECK(request.path == "/v1/revisions");
  }
  CHECK(uploaded_phone);  // the check above looked at the upload that carried the phone
  Result<WireguardKey> raw = WireguardKey::Parse(private_key);
  REQUIRE(raw.ok());
  std::string stored = AllBytesUnder(reconciler.data_dir());
  CHECK(stored.find(PublicKeyOf(config)) != std::string::npos);  // the scan sees the revision
  CHECK(stored.find(private_key) == std::string::npos);
  CHECK(stored.find(std::string(raw->bytes.begin(), raw->bytes.end())) == std::string::npos);
  CHECK(made.out.find(private_key) == std::string::npos);
  CHECK(ReadText(fleet + "/phone.yaml").find(private_key) == std::string::npos);
}

}  // namespace
}  // namespace ww::cli
