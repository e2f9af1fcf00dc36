#!/usr/bin/env python3
"""The manuals are complete: every configuration key the parser accepts
(famcontactd --dump-keys, from the loader's key tables) has its entry in famcontactd.conf(5), in its
group's section, and a line in the example etc/famcontactd.conf; every
famcontactctl command and subcommand (from the programs' own --help) has
its entry in famcontactctl(1) naming each of its options; every option of
famcontactd has its entry in famcontactd(8). And nothing documented is
unknown to the programs.
"""
import os
import re
import subprocess
import unittest

from fcenv import CTL, DAEMON, SOURCE_DIR


def source(*parts):
    with open(os.path.join(SOURCE_DIR, *parts), encoding="utf-8") as f:
        return f.read()


def parser_keys():
    """{group: [key, ...]} as famcontactd --dump-keys prints them (the
    loader's own key tables); group "" is the top level."""
    keys = {"": []}
    for line in run(DAEMON, "--dump-keys").splitlines():
        group, _, key = line.rpartition(".")
        keys.setdefault(group, []).append(key)
    return keys


def manual_keys():
    """{group: [key, ...]} from the .It Ic entries of famcontactd.conf(5)."""
    keys, group = {}, None
    for line in source("man", "famcontactd.conf.5").splitlines():
        if line.startswith((".Ss", ".Sh")):
            m = re.match(r"\.Ss The ([\w.]+) group$", line)
            group = m.group(1) if m else \
                "" if line == ".Ss Top-level keys" else None
            if group is not None:
                keys.setdefault(group, [])
        elif group is not None:
            m = re.match(r"\.It Ic (\w+) No =", line)
            if m:
                keys[group].append(m.group(1))
    return keys


def example_keys():
    """{group: [key, ...]} set in etc/famcontactd.conf, counting an
    optional group shown commented out: from "#name = {" to "#};", each
    line with one "#" in front (prose comments start with "# ")."""
    keys, stack, off = {"": []}, [], False
    for line in source("etc", "famcontactd.conf").splitlines():
        off = off or re.match(r"#\w+\s*=\s*\{", line) is not None
        if off:
            off = line != "#};"
            line = line[1:] if line.startswith("#") else line
        line = re.sub(r"(#|//).*", "", line).strip()
        m = re.match(r"(\w+)\s*=\s*(\{?)", line)
        if m and m.group(2):
            stack.append(m.group(1))
            keys.setdefault(".".join(stack), [])
        elif m:
            keys[".".join(stack)].append(m.group(1))
        elif line.startswith("}"):
            stack.pop()
    return keys


def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r.stdout


def help_options(text):
    """The long options a --help defines: in its usage lines and its table
    of options (never those its prose mentions)."""
    opts, usage = set(), False
    for line in text.splitlines():
        if line.lower().startswith("usage:"):
            usage = True
        elif usage and not line.startswith("   "):
            usage = False
        if usage:
            opts |= set(re.findall(r"(?<![\w-])--([a-z][a-z-]*)", line))
        m = re.match(r"\s+(?:-\w, )?--([a-z][a-z-]*)", line)
        if m:
            opts.add(m.group(1))
    opts.discard("help")
    return opts


def listed(text):
    """The names listed under "Commands:" in a --help."""
    if "Commands:\n" not in text:
        return None
    part = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [l.split()[0] for l in part.splitlines() if re.match(r"  \S", l)]


def ctl_commands():
    """{"group sub" or "command": {options}} from famcontactctl --help."""
    out = {}
    for group in listed(run(CTL, "--help")):
        subs = listed(run(CTL, group, "--help"))
        if subs is None:
            out[group] = help_options(run(CTL, group, "--help"))
        for sub in subs or []:
            out[f"{group} {sub}"] = help_options(run(CTL, group, sub,
                                                     "--help"))
    return out


def manual_blocks(text, names):
    """{command: its entry's text}: from the .It naming it to the next
    command's .It or the end of the section."""
    lines = text.splitlines()
    heads = []
    for i, line in enumerate(lines):
        head = None
        if line.startswith(".It Cm "):
            head = line[len(".It Cm "):]
        elif line == ".It Xo" and i + 1 < len(lines) and \
                lines[i + 1].startswith(".Cm "):
            head = lines[i + 1][len(".Cm "):]
        if head:
            words = head.split()
            for name in (" ".join(words[:2]), words[0]):
                if name in names:
                    heads.append((i, name))
                    break
    blocks = {}
    for n, (i, name) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        for j in range(i + 1, end):
            if lines[j].startswith((".Ss", ".Sh")):
                end = j
                break
        blocks[name] = blocks.get(name, "") + "\n".join(lines[i:end])
    return blocks


def names_option(text, opt):
    return re.search(r"\bFl \\?-%s\b" % re.escape(opt), text) is not None


class ConfigKeys(unittest.TestCase):
    def test_parser_finds_keys(self):
        keys = parser_keys()
        self.assertIn("database", keys[""])
        self.assertIn("give_up_after", keys["retry"])
        self.assertGreaterEqual(sum(len(v) for v in keys.values()), 25)

    def test_every_key_in_its_section(self):
        parser, manual = parser_keys(), manual_keys()
        for group, keys in parser.items():
            section = "Top-level keys" if not group else \
                f"The {group} group"
            self.assertIn(group, manual, f"famcontactd.conf(5): no section "
                          f"'{section}'")
            for key in keys:
                self.assertIn(key, manual[group], f"famcontactd.conf(5): "
                              f"{section} lacks .It Ic {key}")

    def test_no_key_the_parser_refuses(self):
        parser, manual = parser_keys(), manual_keys()
        for group, keys in manual.items():
            for key in keys:
                self.assertIn(key, parser.get(group, []),
                              f"famcontactd.conf(5) documents "
                              f"{group + '.' if group else ''}{key}, which "
                              "the parser does not accept")

    def test_example_sets_every_key(self):
        parser, example = parser_keys(), example_keys()
        for group, keys in parser.items():
            for key in keys:
                self.assertIn(key, example.get(group, []),
                              f"etc/famcontactd.conf lacks "
                              f"{group + '.' if group else ''}{key}")
        for group, keys in example.items():
            for key in keys:
                self.assertIn(key, parser.get(group, []),
                              f"etc/famcontactd.conf sets unknown "
                              f"{group + '.' if group else ''}{key}")


class Commands(unittest.TestCase):
    def setUp(self):
        self.commands = ctl_commands()
        self.manual = source("man", "famcontactctl.1")

    def test_help_lists_commands(self):
        for name in ("caseworker add", "family list", "contact log",
                     "outbox retry", "status", "health"):
            self.assertIn(name, self.commands)
        self.assertEqual(self.commands["family list"],
                         {"overdue", "due", "all", "caseworker", "mine",
                          "format", "wide"})

    def test_every_command_and_option(self):
        blocks = manual_blocks(self.manual, self.commands)
        for name, options in sorted(self.commands.items()):
            self.assertIn(name, blocks, f"famcontactctl(1) has no entry "
                          f"for '{name}'")
            for opt in sorted(options):
                self.assertTrue(names_option(blocks[name], opt),
                                f"famcontactctl(1): the entry for '{name}' "
                                f"does not name --{opt}")

    def test_synopsis_names_every_group(self):
        synopsis = self.manual.split(".Sh SYNOPSIS", 1)[1].split(".Sh", 1)[0]
        for group in {name.split()[0] for name in self.commands}:
            self.assertIn(f".Cm {group}\n", synopsis, group)

    def test_global_options(self):
        for opt in help_options(run(CTL, "--help")) | {"help"}:
            self.assertTrue(names_option(self.manual, opt), opt)


class Daemon(unittest.TestCase):
    def test_every_option(self):
        manual = source("man", "famcontactd.8")
        options = help_options(run(DAEMON, "--help")) | {"help"}
        self.assertIn("once", options)
        for opt in sorted(options):
            self.assertRegex(manual, r"(?m)^\.It .*Fl \\?-%s\b"
                             % re.escape(opt),
                             f"famcontactd(8) has no entry for --{opt}")


if __name__ == "__main__":
    unittest.main()
