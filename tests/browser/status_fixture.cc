// A stand-in reconciler for the status page's browser test (tests/e2e/status_page_test.sh):
// serves a canned fleet snapshot through the real StatusListener and the embedded page.
//   status_fixture [--port N] SNAPSHOT.json [LATER.json ...]
// The k-th snapshot request (status.json, badge.svg, metrics) reads the k-th file, then the
// last one for good, so a browser test can watch the page refresh itself. Files are read at
// request time.
// Prints "listening on http://127.0.0.1:PORT/" once ready; stops on SIGINT or SIGTERM.
// POST /hooks/git answers 202 and logs the body's size on stderr.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "reconciler/status/snapshot_json.h"
#include "reconciler/status/status_listener.h"
#include "schema/net.h"
#include "web-readonly/web_assets.h"

namespace {

ww::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return ww::Status::NotFound("cannot read \"" + path + "\"");
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// The canned file served as is on /status.json; /metrics and /badge.svg render from what it reads.
ww::Result<std::shared_ptr<const ww::PublishedSnapshot>> ReadSnapshot(const std::string& path) {
  WW_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  WW_ASSIGN_OR_RETURN(ww::FleetSnapshot snapshot, ww::FleetSnapshotFromJson(text));
  return std::make_shared<const ww::PublishedSnapshot>(ww::PublishedSnapshot{std::move(snapshot), std::move(text)});
}

int Run(int argc, char** argv) {
  int port = 0;
  std::vector<std::string> snapshot_paths;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--port" && i + 1 < argc) {
      ww::Result<uint16_t> parsed = ww::ParsePort(argv[++i]);
      if (!parsed.ok()) {
        std::cerr << "status_fixture: --port " << parsed.status().message() << "\n";
        return 2;
      }
      port = *parsed;
    } else {
      snapshot_paths.push_back(argument);
    }
  }
  if (snapshot_paths.empty()) {
    std::cerr << "usage: status_fixture [--port N] SNAPSHOT.json [LATER.json ...]\n";
    return 2;
  }

  // Block the stop signals before any thread starts, so sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ww::StatusListenerOptions options;
  auto requests = std::make_shared<std::atomic<std::size_t>>(0);
  options.snapshot = [snapshot_paths, requests] {
    std::size_t index = std::min(requests->fetch_add(1), snapshot_paths.size() - 1);
    return ReadSnapshot(snapshot_paths[index]);
  };
  options.find_asset = [](std::string_view path) -> std::optional<ww::StaticAsset> {
    std::optional<ww::WebAsset> asset = ww::FindWebAsset(path);
    if (!asset) return std::nullopt;
    return ww::StaticAsset{asset->content_type, asset->content};
  };
  options.webhook = [](const ww::HttpHeaders&, const std::string& body) {
    std::cerr << "status_fixture: webhook with " << body.size() << " bytes\n";
    return ww::WebhookAnswer{202, "application/json", "{\"accepted\":true}\n"};
  };
  ww::Result<std::unique_ptr<ww::StatusListener>> listener = ww::StatusListener::Create(std::move(options));
  if (!listener.ok()) {
    std::cerr << "status_fixture: " << listener.status().ToString() << "\n";
    return 1;
  }
  ww::Result<int> bound = (*listener)->Start("127.0.0.1", port);
  if (!bound.ok()) {
    std::cerr << "status_fixture: " << bound.status().ToString() << "\n";
    return 1;
  }
  std::cout << "listening on http://127.0.0.1:" << *bound << "/" << std::endl;

  int received = 0;
  sigwait(&stop_signals, &received);
  (*listener)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
