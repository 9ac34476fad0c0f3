# aibox: the sandbox's shell environment. The image build puts a copy of this file
# at the top of /etc/bash.bashrc and at the end of /etc/profile and /etc/zsh/zshenv:
# under gVisor every file a shell opens costs ~1 ms and every command it forks ~50 ms,
# so it opens at most two small files and forks nothing.
#
# First pass (now): defaults your dotfiles may change (EDITOR, LANG, TERM, the MCP
# config path), the tool packs' environment, the org's proxy variables.
# Last pass (bash and zsh, once, at the first command or prompt that is not in a
# startup file, through a DEBUG trap): after ~/.bashrc, ~/.profile, ~/.zshrc and the
# rest, it puts back what aibox must have: the packs' folders and /opt/aibox/bin on
# PATH, the proxy variables; LC_ALL defaults to LANG. What it had to repair is in
# AIBOX_ENV_REPAIRED (not exported), which `aibox doctor` reports.
# AIBOX_SHELL_SETUP=off skips all of it (for comparison: docs/shell.md).
if [ "${AIBOX_SHELL_SETUP-}" != off ] && [ -z "${__aibox_early-}" ]; then
  __aibox_early=1
  # Assigned only when unset: setting LANG or TERM, even to the same value, makes the
  # shell reload the locale or terminfo (several files, milliseconds under gVisor).
  [ -n "${EDITOR-}" ] || export EDITOR=vi
  [ -n "${LANG-}" ] || export LANG=en_US.UTF-8
  [ -n "${TERM-}" ] || export TERM=xterm-256color
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  export AIBOX_MCP_CONFIG="${AIBOX_MCP_CONFIG:-$HOME/.config/aibox/mcp.json}"
  # The packs' env.sh sourced with an empty PATH leaves exactly their folders in it.
  __aibox_was=$PATH
  PATH=
  if [ -r /opt/toolpacks/.aibox/env.sh ]; then . /opt/toolpacks/.aibox/env.sh; fi
  __aibox_packs=${PATH:+${PATH%:}:}/opt/aibox/bin
  PATH=$__aibox_was
  # Puts each of those folders missing from PATH in front, in their order.
  __aibox_path() {
    # The common case in one command: the folders are there, in one run (zsh pays
    # ~0.2 ms per command under gVisor, so the loop runs only when something is missing).
    case ":$PATH:" in *":$__aibox_packs:"*) return 0 ;; esac
    __aibox_rest=$__aibox_packs __aibox_add=
    while [ -n "$__aibox_rest" ]; do
      __aibox_dir=${__aibox_rest%%:*}
      case $__aibox_rest in *:*) __aibox_rest=${__aibox_rest#*:} ;; *) __aibox_rest= ;; esac
      case ":$PATH:" in *":$__aibox_dir:"*) ;; *) [ -z "$__aibox_dir" ] || __aibox_add=$__aibox_add$__aibox_dir: ;; esac
    done
    PATH=$__aibox_add$PATH
    export PATH
  }
  __aibox_path
  __aibox_proxy_set=
  if [ -r /opt/toolpacks/.aibox/proxy.sh ]; then
    . /opt/toolpacks/.aibox/proxy.sh
    __aibox_proxy_set="${HTTP_PROXY-}|${HTTPS_PROXY-}|${NO_PROXY-}|${http_proxy-}|${https_proxy-}|${no_proxy-}"
  fi
  __aibox_env_last() {
    trap - DEBUG
    AIBOX_ENV_LAST=1 AIBOX_ENV_REPAIRED=
    __aibox_was=$PATH
    __aibox_path
    [ "$PATH" = "$__aibox_was" ] || AIBOX_ENV_REPAIRED=PATH
    if [ -n "$__aibox_proxy_set" ] && [ "${HTTP_PROXY-}|${HTTPS_PROXY-}|${NO_PROXY-}|${http_proxy-}|${https_proxy-}|${no_proxy-}" != "$__aibox_proxy_set" ]; then
      . /opt/toolpacks/.aibox/proxy.sh
      AIBOX_ENV_REPAIRED="${AIBOX_ENV_REPAIRED:+$AIBOX_ENV_REPAIRED }proxy"
    fi
    # A client's LC_* (macOS sends LC_CTYPE=UTF-8) must not break the locale; LC_ALL= (empty) opts out.
    [ -n "${LC_ALL+set}" ] || export LC_ALL="${LANG:-en_US.UTF-8}"
    # History in the home volume, appended after every command.
    case $- in
      *i*)
        if [ -n "${BASH_VERSION-}" ]; then
          shopt -s histappend
          case ${PROMPT_COMMAND-} in *'history -a'*) ;; *) PROMPT_COMMAND="history -a${PROMPT_COMMAND:+; $PROMPT_COMMAND}" ;; esac
        fi
        ;;
    esac
  }
  if [ -n "${BASH_VERSION-}" ]; then
    case ${SHELL-} in /usr/local/lib/aibox/login-shell) SHELL=/bin/bash ;; esac
    # BASH_SOURCE is empty outside startup files.
    trap '[ -n "${BASH_SOURCE-}" ] || __aibox_env_last' DEBUG
  elif [ -n "${ZSH_VERSION-}" ]; then
    case ${SHELL-} in /usr/local/lib/aibox/login-shell) SHELL=/bin/zsh ;; esac
    case $- in
      *i*)
        # zsh keeps no history by default. Set now (zsh reads the file after the startup
        # files, and adds a line before the trap runs); your ~/.zshrc may change it.
        : "${HISTFILE:=$HOME/.zsh_history}"
        [ "${SAVEHIST:-0}" -gt 0 ] || SAVEHIST=10000
        [ "${HISTSIZE:-0}" -ge "$SAVEHIST" ] || HISTSIZE=$SAVEHIST
        setopt inc_append_history
        ;;
    esac
    # Only at the top level (a hook function may restore options and traps on return);
    # zsh_eval_context starts with "file" while a startup file runs.
    trap '[[ ${#zsh_eval_context} -gt 2 || ${zsh_eval_context[1]-} == file ]] || __aibox_env_last' DEBUG
  fi
  unset __aibox_was
fi
