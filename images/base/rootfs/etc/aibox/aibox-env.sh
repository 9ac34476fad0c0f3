# aibox: the sandbox's shell environment. The image build puts a copy of this file,
# without comments, at the top of /etc/bash.bashrc and at the end of /etc/profile and
# /etc/zsh/zshenv. It is read by every shell, so it is written for speed under gVisor:
# every file a shell opens costs ~1 ms, every fork ~50 ms, and in zsh every builtin
# command (`[`, `:`, `export`) ~0.15 ms while assignments, `case` and `[[ ]]` cost
# microseconds. So it opens at most two small files, forks nothing, and does its work
# in assignments and `case` (POSIX sh: dash reads /etc/profile too).
#
# First pass (now): defaults your dotfiles may change (EDITOR, LANG, TERM, the MCP
# config path), the tool packs' environment, the org's proxy variables.
# Last pass (bash and zsh, once, before the first prompt or the first command that is
# not in a startup file; see __aibox_arm): after ~/.bashrc,
# ~/.profile, ~/.zshrc and the rest, it puts back what aibox must have: the packs'
# folders and /opt/aibox/bin on PATH, the proxy variables and the build tools' proxy
# options (added to yours); LC_ALL defaults to LANG.
# What it had to repair is in AIBOX_ENV_REPAIRED (not exported), which `aibox doctor`
# reports. AIBOX_SHELL_SETUP=off skips all of it (for comparison: docs/shell.md).
case ${AIBOX_SHELL_SETUP-}:${__aibox_early-} in
off:* | *:1) ;;
*)
  __aibox_early=1
  # `${X:=value}` assigns only when X is unset or empty: assigning LANG or TERM, even
  # to the value they have, makes the shell reload the locale or terminfo.
  __aibox_was=${EDITOR:=vi}${LANG:=en_US.UTF-8}${TERM:=xterm-256color}
  export EDITOR LANG TERM NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt AIBOX_MCP_CONFIG="${AIBOX_MCP_CONFIG:-$HOME/.config/aibox/mcp.json}"
  # The packs' env.sh sourced with an empty PATH leaves exactly their folders in it.
  __aibox_packs=/opt/aibox/bin
  if [ -r /opt/toolpacks/.aibox/env.sh ]; then
    __aibox_was=$PATH
    PATH=
    . /opt/toolpacks/.aibox/env.sh
    __aibox_packs=${PATH:+${PATH%:}:}/opt/aibox/bin
    PATH=$__aibox_was
  fi
  # Puts each of those folders missing from PATH in front, in their order. Callers
  # first check the common case in one `case` (the folders are there, in one run):
  # in zsh every function call or builtin costs a pair of system calls.
  __aibox_path() {
    __aibox_rest=$__aibox_packs __aibox_add=
    while case $__aibox_rest in '') false ;; esac; do
      __aibox_dir=${__aibox_rest%%:*}
      case $__aibox_rest in *:*) __aibox_rest=${__aibox_rest#*:} ;; *) __aibox_rest= ;; esac
      case ":$PATH:$__aibox_dir" in *":$__aibox_dir:"* | *:) ;; *) __aibox_add=$__aibox_add$__aibox_dir: ;; esac
    done
    PATH=$__aibox_add$PATH
    export PATH
  }
  case ":$PATH:" in *":$__aibox_packs:"*) ;; *) __aibox_path ;; esac
  __aibox_proxy_set=
  if [ -r /opt/toolpacks/.aibox/proxy.sh ]; then
    . /opt/toolpacks/.aibox/proxy.sh
    __aibox_proxy_set="${HTTP_PROXY-}|${HTTPS_PROXY-}|${NO_PROXY-}|${http_proxy-}|${https_proxy-}|${no_proxy-}"
  fi
  __aibox_env_last() {
    AIBOX_ENV_LAST=1 AIBOX_ENV_REPAIRED= __aibox_was=$PATH
    case ":$PATH:" in
    *":$__aibox_packs:"*) ;;
    *)
      __aibox_path
      case $PATH in "$__aibox_was") ;; *) AIBOX_ENV_REPAIRED=PATH ;; esac
      ;;
    esac
    case $__aibox_proxy_set in
    '' | "${HTTP_PROXY-}|${HTTPS_PROXY-}|${NO_PROXY-}|${http_proxy-}|${https_proxy-}|${no_proxy-}") ;;
    *)
      . /opt/toolpacks/.aibox/proxy.sh
      AIBOX_ENV_REPAIRED="${AIBOX_ENV_REPAIRED:+$AIBOX_ENV_REPAIRED }proxy"
      ;;
    esac
    # The build tools' proxy options (proxy.sh's function), added again to what a dotfile set.
    case ${__aibox_proxy_tools_set-} in 1) __aibox_proxy_tools ;; esac
    # A client's LC_* (macOS sends LC_CTYPE=UTF-8) must not break the locale; LC_ALL= (empty) opts out.
    case ${LC_ALL+set} in '') export LC_ALL="${LANG:-en_US.UTF-8}" ;; esac
    # bash: history in the home volume, appended after every command.
    case $-:${BASH_VERSION-} in
    *i*:?*)
      shopt -s histappend
      case ${PROMPT_COMMAND-} in *'history -a'*) ;; *) PROMPT_COMMAND="history -a${PROMPT_COMMAND:+; $PROMPT_COMMAND}" ;; esac
      ;;
    esac
  }
  # Arms the last pass; the system startup files call it at their end (the image adds
  # the call), so that it does not run for their own commands. A shell that will show a
  # prompt runs the last pass before its first prompt (PROMPT_COMMAND[9], which survives
  # a dotfile's PROMPT_COMMAND=...; zsh's precmd_functions): that costs nothing per
  # command of your startup files. A shell given a command (-c, ssh HOST CMD) runs it
  # through a DEBUG trap before that command, which costs ~0.2 ms per command of your
  # startup files under gVisor. The trap removes itself in its own text: bash restores a
  # DEBUG trap that a function called from the trap removes.
  __aibox_arm() {
    case $-:${BASH_EXECUTION_STRING+c}${ZSH_EXECUTION_STRING+c}:${BASH_VERSION-} in
    *i*::?*) PROMPT_COMMAND[9]=__aibox_prompt ;;
    *i*::) eval 'precmd_functions+=(__aibox_prompt)' ;;
    *) trap "$__aibox_trap" DEBUG ;;
    esac
    __aibox_trap=
  }
  __aibox_prompt() {
    case ${BASH_VERSION-} in
    ?*) unset 'PROMPT_COMMAND[9]' ;;
    *) eval 'precmd_functions=(${precmd_functions:#__aibox_prompt})' ;;
    esac
    __aibox_env_last
  }
  case ${BASH_VERSION-}:${ZSH_VERSION-} in
  ?*:*)
    case ${SHELL-} in /usr/local/lib/aibox/login-shell) SHELL=/bin/bash ;; esac
    # BASH_SOURCE is empty outside startup files.
    __aibox_trap='[ -n "${BASH_SOURCE-}" ] || { trap - DEBUG; __aibox_env_last; }'
    ;;
  :?*)
    case ${SHELL-} in /usr/local/lib/aibox/login-shell) SHELL=/bin/zsh ;; esac
    case $- in
    *i*)
      # zsh keeps no history by default. Set now (zsh reads the file after the startup
      # files, and adds a line before the last pass runs); your ~/.zshrc may change it.
      __aibox_was=${HISTFILE:=$HOME/.zsh_history}
      case ${SAVEHIST:-0} in 0) SAVEHIST=10000 ;; esac
      HISTSIZE=$((${HISTSIZE:-0} > SAVEHIST ? ${HISTSIZE:-0} : SAVEHIST))
      setopt inc_append_history
      ;;
    esac
    # Only at the top level (a hook function may restore options and traps on return);
    # zsh_eval_context starts with "file" ("filecode" when compiled) in a startup file.
    __aibox_trap='[[ ${#zsh_eval_context} -gt 2 || ${zsh_eval_context[1]-} == file* ]] || { trap - DEBUG; __aibox_env_last; }'
    ;;
  esac
  ;;
esac
