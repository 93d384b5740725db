package main

import "testing"

// commandName finds the subcommand after runc's global flags, in every
// form they come in, and gives up (the full command tree then answers) on
// anything it does not know.
func TestCommandName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"husk", "create", "x"}, "create"},
		{[]string{"husk", "--root", "/r", "--log", "/l", "--log-format", "json", "state", "x"}, "state"},
		{[]string{"husk", "--root=/r", "--debug", "--systemd-cgroup", "-rootless", "true", "delete", "-f", "x"}, "delete"},
		{[]string{"husk", "--criu", "/c", "checkpoint"}, "checkpoint"},
		{[]string{"husk", "--help"}, ""},
		{[]string{"husk", "--version"}, ""},
		{[]string{"husk", "--new-flag", "x", "run"}, ""},
		{[]string{"husk"}, ""},
		{[]string{"husk", "--root"}, ""},
	} {
		if got := commandName(c.args); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
	// A name is only a command when it is one.
	if cmds := newApp().commands([]string{"husk", "help"}); len(cmds) != 17 {
		t.Errorf("husk help: %d commands, want all 17", len(cmds))
	}
	if cmds := newApp().commands([]string{"husk", "exec", "x", "ls"}); len(cmds) != 1 || cmds[0].Name != "exec" {
		t.Errorf("husk exec: commands %v, want exec alone", cmds)
	}
}
