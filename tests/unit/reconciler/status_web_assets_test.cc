// The status page's embedded files: each is byte-for-byte the file in web-readonly/ with its
// content type, nothing else is reachable, and the page keeps to what its
// Content-Security-Policy allows (no inline script or style, no external URL) and never
// parses data as HTML.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "web-readonly/web_assets.h"

namespace ww {
namespace {

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream file(std::string(WW_SOURCE_DIR) + "/" + relative, std::ios::binary);
  REQUIRE(file.good());
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string Embedded(std::string_view path) {
  std::optional<WebAsset> asset = FindWebAsset(path);
  REQUIRE(asset.has_value());
  return std::string(asset->content);
}

TEST_CASE("web assets: every page file is embedded as it is on disk, with its content type") {
  struct Expected {
    const char* path;
    const char* file;
    const char* content_type;
  };
  for (const Expected& expected : {Expected{"/", "index.html", "text/html; charset=utf-8"},
                                   Expected{"/index.html", "index.html", "text/html; charset=utf-8"},
                                   Expected{"/style.css", "style.css", "text/css; charset=utf-8"},
                                   Expected{"/app.js", "app.js", "text/javascript; charset=utf-8"},
                                   Expected{"/favicon.svg", "favicon.svg", "image/svg+xml"}}) {
    CAPTURE(expected.path);
    std::optional<WebAsset> asset = FindWebAsset(expected.path);
    REQUIRE(asset.has_value());
    CHECK(asset->name == expected.file);
    CHECK(asset->content_type == expected.content_type);
    CHECK(asset->content == ReadSourceFile(std::string("web-readonly/") + expected.file));
  }
}

TEST_CASE("web assets: nothing but the page's files can be found") {
  for (const char* path : {"", "index.html", "/index.html/", "/INDEX.HTML", "/web_assets.h", "/CMakeLists.txt",
                           "/../index.html", "//index.html", "/status.json", "/app.js?x=1"}) {
    CAPTURE(path);
    CHECK_FALSE(FindWebAsset(path).has_value());
  }
}

TEST_CASE("web assets: the page keeps to its Content-Security-Policy and builds no HTML from data") {
  std::string html = Embedded("/");
  std::string script = Embedded("/app.js");
  std::string style = Embedded("/style.css");
  // script-src 'self' and style-src 'self': no inline code, no style attributes.
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("<script src=\"/app.js\" defer></script>") != std::string::npos);
  CHECK(html.find("<style") == std::string::npos);
  CHECK(html.find("style=") == std::string::npos);
  CHECK(html.find(" on") == std::string::npos);  // no onload= and friends
  CHECK(script.find("setAttribute('style'") == std::string::npos);
  // Every value reaches the DOM as text.
  for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"}) {
    CAPTURE(sink);
    CHECK(script.find(sink) == std::string::npos);
  }
  // Works offline: nothing is fetched from elsewhere (the SVG namespace is a name, not a URL).
  for (const std::string* text : {&html, &script, &style}) {
    CHECK(text->find("https://") == std::string::npos);
    CHECK(text->find("//cdn") == std::string::npos);
    CHECK(text->find("@import") == std::string::npos);
  }
  CHECK(script.find("fetch('/status.json'") != std::string::npos);
}

}  // namespace
}  // namespace ww
