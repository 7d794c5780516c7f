// The cfg dialect (CFG.md): the malformed-cfg corpus in tests/cfg_bad, whose files state the
// expected message in leading "# expect: " lines, the lexical forms that must be accepted,
// suggestions for typos, command-line overrides and the missing-file error.
#define BOOST_TEST_MODULE cfg
#include <boost/test/unit_test.hpp>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "cfg/cfg.h"
#include "base/error.h"
#include "core/network.h"
#include "layers/registry.h"
#include "testing.h"

namespace {

const std::string kNet = "[net]\nwidth=8\nheight=8\nchannels=1\n";
const std::string kTag = "# expect: ";

// Expectations of the corpus files that cannot carry a comment line.
const std::map<std::string, std::string> kExpectInSource = {
    {"empty.cfg", "empty.cfg: empty cfg: no sections found"},
    {"binary_garbage.cfg", "binary_garbage.cfg:1: unexpected control character 0x7f"},
};

std::string corpus_dir() { return rpg_test::source_dir() + "/tests/cfg_bad"; }

// The *.cfg files of a folder, sorted.
std::vector<std::string> list_cfgs(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (const dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".cfg") == 0) names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The leading "# expect: " lines of a cfg text (after an optional BOM; LF, CRLF or CR ends).
std::vector<std::string> expectations(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  while (text.compare(pos, kTag.size(), kTag) == 0) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos + kTag.size(), end - pos - kTag.size()));
    pos = end;
    if (pos < text.size() && text[pos] == '\r') ++pos;
    if (pos < text.size() && text[pos] == '\n') ++pos;
  }
  return out;
}

std::unique_ptr<rpg::Network> build(const rpg::CfgFile& cfg) {
  return std::make_unique<rpg::Network>(cfg, std::make_unique<rpg::CpuBackend>(1));
}

// Runs f, which must throw an rpg::Error of the given status; returns its message.
template <typename F>
std::string error_of(F f, rpg::Status status = rpg::Status::ParseError) {
  try {
    f();
  } catch (const rpg::Error& e) {
    BOOST_TEST((e.status() == status), "status " << int(e.status()) << " for: " << e.what());
    return e.what();
  } catch (const std::exception& e) {
    BOOST_ERROR("not an rpg::Error: " << e.what());
    return "";
  }
  BOOST_ERROR("no error thrown");
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// ---- the malformed-cfg corpus ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(corpus_is_complete) {
  const std::vector<std::string> files = list_cfgs(corpus_dir());
  BOOST_TEST(files.size() >= 30u,
             "tests/cfg_bad has " << files.size() << " files (run from the repository root)");
  for (const auto& kv : kExpectInSource)
    BOOST_TEST((std::find(files.begin(), files.end(), kv.first) != files.end()),
               kv.first << " is missing");
}

BOOST_AUTO_TEST_CASE(corpus_files_fail_with_their_expected_message) {
  for (const std::string& name : list_cfgs(corpus_dir())) {
    BOOST_TEST_CONTEXT("tests/cfg_bad/" << name) {
      const std::string path = corpus_dir() + "/" + name;
      const auto in_source = kExpectInSource.find(name);
      const std::vector<std::string> expect = in_source != kExpectInSource.end()
                                                  ? std::vector<std::string>{in_source->second}
                                                  : expectations(read_file(path));
      if (expect.empty()) {
        BOOST_ERROR("no leading '" << kTag << "' line");
        continue;
      }
      // The first expectation names the file, so that a copied file cannot pass on another's line.
      BOOST_TEST(contains(expect[0], name + ":"), "the first expectation does not name " << name);
      const std::string msg = error_of([&] { build(rpg::load_cfg(path)); });
      BOOST_TEST(msg.compare(0, path.size() + 1, path + ":") == 0,
                 "message does not start with the path: " << msg);
      BOOST_TEST(msg.find_first_of("\r\n") == std::string::npos,
                 "message is not one clean line: " << msg);
      for (const std::string& part : expect)
        BOOST_TEST(contains(msg, part), "'" << part << "' not in: " << msg);
    }
  }
}

// ---- lexical forms that must be accepted -----------------------------------------------------

BOOST_AUTO_TEST_CASE(crlf_line_ends) {
  const std::string text =
      "[net]\r\nwidth=8\r\nheight=8\r\nchannels=1\r\n\r\n"
      "# note\r\n[convolutional]\r\nfilters=4\r\nsize=3\r\nactivation=leaky # note\r\n";
  rpg::CfgFile cfg = rpg::parse_cfg(text, "crlf.cfg");
  BOOST_TEST_REQUIRE(cfg.sections.size() == 2u);
  BOOST_TEST(cfg.sections[1].line == 7);
  BOOST_TEST(cfg.sections[1].find("size")->value == "3");
  BOOST_TEST(cfg.sections[1].find("activation")->value == "leaky");
  BOOST_TEST(cfg.sections[1].find("activation")->line == 10);
  auto net = build(cfg);
  BOOST_TEST(net->layers()[0]->out.c == 4);
  BOOST_TEST(net->layers()[0]->out.h == 6);
}

BOOST_AUTO_TEST_CASE(utf8_bom) {
  rpg::CfgFile cfg = rpg::parse_cfg("\xEF\xBB\xBF" + kNet + "[connected]\noutput=3\n", "bom.cfg");
  BOOST_TEST(cfg.sections[0].type == "net");
  BOOST_TEST(cfg.sections[0].find("width")->value == "8");
  BOOST_TEST(build(cfg)->output_size() == 3);
  // A BOM before a comment line too.
  rpg::CfgFile c2 =
      rpg::parse_cfg("\xEF\xBB\xBF# comment\r\n" + kNet + "[connected]\noutput=3", "bom2.cfg");
  BOOST_TEST(c2.sections[0].line == 2);
}

BOOST_AUTO_TEST_CASE(no_final_newline) {
  rpg::CfgFile cfg = rpg::parse_cfg(kNet + "[connected]\noutput=7", "nonl.cfg");
  BOOST_TEST(cfg.sections[1].find("output")->value == "7");
  BOOST_TEST(build(cfg)->output_size() == 7);
  rpg::CfgFile crlf = rpg::parse_cfg(kNet + "[connected]\r\noutput=7\r", "nonl2.cfg");
  BOOST_TEST(crlf.sections[1].find("output")->value == "7");
}

BOOST_AUTO_TEST_CASE(inline_comments) {
  rpg::CfgFile cfg = rpg::parse_cfg(kNet +
                                        "[convolutional]\n"
                                        "filters=16#no space before it\n"
                                        "size=3   # spaces and a comment\n"
                                        "activation=leaky # note\n",
                                    "inline.cfg");
  const rpg::CfgSection& s = cfg.sections[1];
  BOOST_TEST(s.find("filters")->value == "16");
  BOOST_TEST(s.find("size")->value == "3");
  BOOST_TEST(s.find("activation")->value == "leaky");
  rpg::Options o(cfg, s, {"filters", "size", "activation"});
  BOOST_TEST((rpg::get_activation(o, "activation", rpg::Act::Logistic) == rpg::Act::Leaky));
  BOOST_TEST(o.require_int("filters", 1) == 16);
  BOOST_TEST(build(cfg)->layers()[0]->out.c == 16);
}

BOOST_AUTO_TEST_CASE(comment_lines) {
  const std::string text =
      "# hash comment\n; semicolon comment\n   # indented\n\t; indented with a tab\n" + kNet +
      "; between keys\n#[convolutional]\n[connected]\n;output=99\noutput=5\n";
  rpg::CfgFile cfg = rpg::parse_cfg(text, "comments.cfg");
  BOOST_TEST_REQUIRE(cfg.sections.size() == 2u);
  BOOST_TEST(cfg.sections[0].line == 5);
  BOOST_TEST(cfg.sections[1].type == "connected");
  BOOST_TEST(cfg.sections[1].entries.size() == 1u);
  BOOST_TEST(cfg.sections[1].find("output")->line == 13);
  BOOST_TEST(build(cfg)->output_size() == 5);
}

BOOST_AUTO_TEST_CASE(whitespace_around_keys_and_values) {
  const std::string text =
      "  [ net ]  \nwidth = 8\n\theight\t=\t8\t\n  channels=  1  \n\n"
      "[connected]\n   output   =   6   \n";
  rpg::CfgFile cfg = rpg::parse_cfg(text, "ws.cfg");
  BOOST_TEST(cfg.sections[0].type == "net");
  BOOST_TEST(cfg.sections[0].find("height")->value == "8");
  BOOST_TEST(cfg.sections[0].find("channels")->value == "1");
  BOOST_TEST(cfg.sections[1].find("output")->value == "6");
  BOOST_TEST(build(cfg)->output_size() == 6);
}

BOOST_AUTO_TEST_CASE(value_with_inner_spaces_is_kept) {
  rpg::CfgFile cfg =
      rpg::parse_cfg(kNet + "train =  /data/my images/train list.txt  \nlabels=a b\n", "sp.cfg");
  BOOST_TEST(cfg.sections[0].find("train")->value == "/data/my images/train list.txt");
  BOOST_TEST(cfg.sections[0].find("labels")->value == "a b");
}

BOOST_AUTO_TEST_CASE(network_section_name) {
  rpg::CfgFile cfg =
      rpg::parse_cfg("[network]\nwidth=8\nheight=8\nchannels=3\n[connected]\noutput=2\n", "n.cfg");
  auto net = build(cfg);
  BOOST_TEST(net->input_size() == 8 * 8 * 3);
  BOOST_TEST(net->output_size() == 2);
}

BOOST_AUTO_TEST_CASE(section_aliases) {
  const std::string text = kNet +
                           "[conv]\nfilters=4\nsize=3\npad=1\n"
                           "[max]\nsize=2\nstride=2\n"
                           "[conn]\noutput=10\n"
                           "[soft]\n"
                           "[conv]\nfilters=2\n"  // a 1x1 convolution on 10 x 1 x 1
                           "[avg]\n";
  auto net = build(rpg::parse_cfg(text, "alias.cfg"));
  std::vector<std::string> types;
  for (const auto& l : net->layers()) types.push_back(l->type);
  const std::vector<std::string> want = {"convolutional", "maxpool",       "connected",
                                         "softmax",       "convolutional", "avgpool"};
  BOOST_TEST(types == want, boost::test_tools::per_element());
  BOOST_TEST(net->layers()[1]->out.h == 4);
}

BOOST_AUTO_TEST_CASE(entries_keep_their_line_numbers) {
  rpg::CfgFile cfg = rpg::parse_cfg("\n# c\n[net]\n\nwidth=8\n", "lines.cfg");
  BOOST_TEST(cfg.path == "lines.cfg");
  BOOST_TEST(cfg.sections[0].line == 3);
  BOOST_TEST(cfg.sections[0].find("width")->line == 5);
  BOOST_TEST(cfg.sections[0].find("height") == nullptr);
}

// ---- suggestions -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(closest_match_suggests_typos_only) {
  const std::vector<std::string> keys = {"filters", "size", "stride", "pad", "width", "height"};
  BOOST_TEST(rpg::closest_match("filtres", keys) == "filters");
  BOOST_TEST(rpg::closest_match("filter", keys) == "filters");
  BOOST_TEST(rpg::closest_match("widht", keys) == "width");
  BOOST_TEST(rpg::closest_match("strid", keys) == "stride");
  BOOST_TEST(rpg::closest_match("banana", keys) == "");
  BOOST_TEST(rpg::closest_match("x", keys) == "");
  BOOST_TEST(rpg::closest_match("filters", {}) == "");
}

BOOST_AUTO_TEST_CASE(unknown_key_suggestion) {
  const std::string msg = error_of(
      [] { build(rpg::parse_cfg(kNet + "[convolutional]\nsize=3\nfiltres=16\n", "typo.cfg")); });
  BOOST_TEST(
      contains(msg,
               "typo.cfg:7: unknown key 'filtres' in [convolutional]; did you mean 'filters'?"),
      msg);
  const std::string far =
      error_of([] { build(rpg::parse_cfg(kNet + "[maxpool]\nbananas=3\n", "far.cfg")); });
  BOOST_TEST(contains(far, "far.cfg:6: unknown key 'bananas' in [maxpool]"), far);
  BOOST_TEST(!contains(far, "did you mean"), far);
  // A key of another layer type is unknown here too.
  const std::string other =
      error_of([] { build(rpg::parse_cfg(kNet + "[maxpool]\nfilters=3\n", "o.cfg")); });
  BOOST_TEST(contains(other, "o.cfg:6: unknown key 'filters' in [maxpool]"), other);
}

BOOST_AUTO_TEST_CASE(unknown_section_suggestion) {
  const std::string msg =
      error_of([] { build(rpg::parse_cfg(kNet + "[maxpol]\nsize=2\n", "sec.cfg")); });
  BOOST_TEST(contains(msg, "sec.cfg:5: unknown section [maxpol]; did you mean [maxpool]?"), msg);
  const std::string conv =
      error_of([] { build(rpg::parse_cfg(kNet + "[convolutinal]\n", "c.cfg")); });
  BOOST_TEST(contains(conv, "did you mean [convolutional]?"), conv);
  const std::string far = error_of([] { build(rpg::parse_cfg(kNet + "[banana]\n", "far.cfg")); });
  BOOST_TEST(contains(far, "far.cfg:5: unknown section [banana]"), far);
  BOOST_TEST(!contains(far, "did you mean"), far);
}

// ---- overrides -------------------------------------------------------------------------------

namespace {
const std::string kTwoLayers =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n"
    "[convolutional]\nfilters=4\nsize=3\npad=1\n"
    "[convolutional]\nfilters=6\nsize=3\npad=1\n";
}  // namespace

BOOST_AUTO_TEST_CASE(override_net_key) {
  rpg::CfgFile cfg = rpg::parse_cfg(kTwoLayers, "ovr.cfg");
  rpg::apply_override(cfg, "net.batch=64");
  BOOST_TEST(cfg.sections[0].find("batch")->value == "64");
  BOOST_TEST(cfg.sections[0].find("batch")->line == 2);
  rpg::apply_override(cfg, "network.subdivisions=16");  // added; [network] addresses [net] too
  rpg::apply_override(cfg, " net.seed = 5 ");
  BOOST_TEST(cfg.sections[0].find("subdivisions")->value == "16");
  BOOST_TEST(cfg.sections[0].find("seed")->value == "5");
  auto net = build(cfg);
  BOOST_TEST(net->config().batch == 64);
  BOOST_TEST(net->config().subdivisions == 16);
  BOOST_TEST(net->batch() == 4);
  BOOST_TEST(net->config().seed == 5u);
}

BOOST_AUTO_TEST_CASE(override_layer_by_index) {
  rpg::CfgFile cfg = rpg::parse_cfg(kTwoLayers, "ovr.cfg");
  rpg::apply_override(cfg, "1.filters=32");  // layers count from 0, [net] not counted
  rpg::apply_override(cfg, "0.stride=2");    // not in the file: added to the section
  BOOST_TEST(cfg.sections[2].find("filters")->value == "32");
  BOOST_TEST(cfg.sections[1].find("filters")->value == "4");
  BOOST_TEST(cfg.sections[1].find("stride")->value == "2");
  auto net = build(cfg);
  BOOST_TEST(net->layers()[0]->out.c == 4);
  BOOST_TEST(net->layers()[0]->out.h == 4);
  BOOST_TEST(net->layers()[1]->out.c == 32);
}

BOOST_AUTO_TEST_CASE(override_counts_layers_not_rings) {
  // [ring] sections are not layers: index 0 is the convolutional after the ring.
  rpg::CfgFile cfg = rpg::parse_cfg(kNet +
                                        "[ring]\nname=global\ndof=0.1\n"
                                        "[ring]\nsize=100\n"
                                        "[convolutional]\nfilters=4\n",
                                    "rings.cfg");
  rpg::apply_override(cfg, "0.filters=8");
  BOOST_TEST(cfg.sections[3].find("filters")->value == "8");
  BOOST_TEST(cfg.sections[1].find("filters") == nullptr);
  rpg::apply_override(cfg, "ring.global.dof=0.05");
  BOOST_TEST(cfg.sections[1].find("dof")->value == "0.05");
  rpg::apply_override(cfg, "ring.ring0.size=50");  // an unnamed ring is ring0
  BOOST_TEST(cfg.sections[2].find("size")->value == "50");
}

BOOST_AUTO_TEST_CASE(override_errors) {
  auto attempt = [](const std::string& spec) {
    return error_of(
        [&] {
          rpg::CfgFile cfg = rpg::parse_cfg(kTwoLayers, "ovr.cfg");
          rpg::apply_override(cfg, spec);
        },
        rpg::Status::InvalidArgument);
  };
  BOOST_TEST(contains(attempt("net.batch"), "--set 'net.batch': missing '='"));
  for (const std::string spec :
       {"batch=4", ".batch=4", "net.=4", "net.batch=", "net.batch=  ", "=4"}) {
    BOOST_TEST_CONTEXT(spec) {
      const std::string msg = attempt(spec);
      BOOST_TEST(contains(msg, "--set '" + spec + "': malformed; expected SECTION.KEY=VALUE"), msg);
    }
  }
  for (const std::string spec : {"x.batch=4", "-1.filters=3", "1x.filters=3",
                                 "99999999999999999999.filters=3", "ring.filters=3"}) {
    BOOST_TEST_CONTEXT(spec) {
      const std::string msg = attempt(spec);
      BOOST_TEST(contains(msg, "--set '" + spec + "': bad section '"), msg);
    }
  }
  const std::string range = attempt("2.filters=3");
  BOOST_TEST(
      contains(
          range,
          "--set '2.filters=3': layer 2 does not exist (ovr.cfg has 2 layers, numbered from 0)"),
      range);
  const std::string ring = attempt("ring.global.dof=0.1");
  BOOST_TEST(contains(ring, "--set 'ring.global.dof=0.1': no [ring] named 'global' in ovr.cfg"),
             ring);
}

BOOST_AUTO_TEST_CASE(override_bad_value_is_reported_by_the_build) {
  auto built = [](const std::string& spec) {
    return error_of([&] {
      rpg::CfgFile cfg = rpg::parse_cfg(kTwoLayers, "ovr.cfg");
      rpg::apply_override(cfg, spec);
      build(cfg);
    });
  };
  std::string msg = built("1.filters=-3");
  BOOST_TEST(
      contains(
          msg,
          "ovr.cfg:11: key 'filters' in [convolutional] must be between 1 and 1048576, got -3"),
      msg);
  msg = built("net.batch=0");
  BOOST_TEST(contains(msg, "ovr.cfg:2: key 'batch' in [net] must be between 1 and 1048576, got 0"),
             msg);
  msg = built("net.subdivisions=3");  // added: reported at the [net] header
  BOOST_TEST(contains(msg, "ovr.cfg:1: subdivisions=3 does not divide batch=8"), msg);
  msg = built("0.activation=leakyy");
  BOOST_TEST(contains(msg, "ovr.cfg:6: unknown activation 'leakyy' in [convolutional]"), msg);
  msg = built("0.filtres=3");
  BOOST_TEST(
      contains(msg, "ovr.cfg:6: unknown key 'filtres' in [convolutional]; did you mean 'filters'?"),
      msg);
  msg = built("net.momentum=fast");
  BOOST_TEST(contains(msg, "key 'momentum' in [net] must be a number, got 'fast'"), msg);
}

// ---- files -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(missing_file_is_not_found) {
  const std::string path = corpus_dir() + "/no-such-dir/missing.cfg";
  const std::string msg = error_of([&] { rpg::load_cfg(path); }, rpg::Status::NotFound);
  BOOST_TEST(contains(msg, "cannot open cfg file '" + path + "'"), msg);
  BOOST_TEST(contains(msg, "No such file or directory"), msg);
}

BOOST_AUTO_TEST_CASE(directory_is_not_a_cfg) {
  const std::string msg = error_of([&] { rpg::load_cfg(corpus_dir()); }, rpg::Status::NotFound);
  BOOST_TEST(contains(msg, "cannot open cfg file '" + corpus_dir() + "'"), msg);
}

BOOST_AUTO_TEST_CASE(load_cfg_reads_a_file) {
  const std::string path = corpus_dir() + "/unknown_key_typo.cfg";
  rpg::CfgFile cfg = rpg::load_cfg(path);
  BOOST_TEST(cfg.path == path);
  BOOST_TEST(cfg.sections.size() == 2u);
}
