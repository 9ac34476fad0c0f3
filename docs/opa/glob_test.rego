# Generated from test/fixtures/glob-cases.json by `npm run docs`; a unit test keeps it in sync.
# Each case calls OPA's glob.match with the delimiters aibox uses for the kind: the same table
# runs against aibox's own glob in test/unit/glob.test.ts.
package aibox.glob_test

test_01_host if {
	glob.match("*.example.com", ["."], "api.example.com")
}

test_02_host if {
	not glob.match("*.example.com", ["."], "api.cdn.example.com")
}

test_03_host if {
	not glob.match("*.example.com", ["."], "example.com")
}

test_04_host if {
	glob.match("**.example.com", ["."], "api.cdn.example.com")
}

test_05_host if {
	glob.match("api.**.com", ["."], "api.example.com")
}

test_06_host if {
	glob.match("*", ["."], "localhost")
}

test_07_host if {
	not glob.match("*", ["."], "example.com")
}

test_08_host if {
	glob.match("registry.example.com", ["."], "registry.example.com")
}

test_09_host if {
	not glob.match("registry.example.com", ["."], "registryxexample.com")
}

test_10_host if {
	glob.match("?.example.com", ["."], "a.example.com")
}

test_11_host if {
	not glob.match("?.example.com", ["."], "ab.example.com")
}

test_12_host if {
	glob.match("git[0-9].example.com", ["."], "git7.example.com")
}

test_13_host if {
	glob.match("git[!0-9].example.com", ["."], "gitx.example.com")
}

test_14_host if {
	not glob.match("git[!0-9].example.com", ["."], "git7.example.com")
}

test_15_host if {
	glob.match("a[!x]b.example.com", ["."], "a.b.example.com")
}

test_16_host if {
	glob.match("{git,registry}.example.com", ["."], "registry.example.com")
}

test_17_host if {
	not glob.match("{git,registry}.example.com", ["."], "www.example.com")
}

test_18_host if {
	not glob.match("*.EXAMPLE.com", ["."], "api.example.com")
}

test_19_repo if {
	glob.match("git.example.com/acme/*", ["/"], "git.example.com/acme/app")
}

test_20_repo if {
	not glob.match("git.example.com/acme/*", ["/"], "git.example.com/acme/team/app")
}

test_21_repo if {
	glob.match("git.example.com/acme/**", ["/"], "git.example.com/acme/team/app")
}

test_22_repo if {
	glob.match("*.example.com/acme/app", ["/"], "git.example.com/acme/app")
}

test_23_repo if {
	glob.match("git.example.com/*/secret", ["/"], "git.example.com/acme/secret")
}

test_24_repo if {
	not glob.match("git.example.com/*/secret", ["/"], "git.example.com/acme/team/secret")
}

test_25_repo if {
	glob.match("git.example.com/acme/app-?", ["/"], "git.example.com/acme/app-1")
}

test_26_repo if {
	glob.match("git.example.com/acme/{web,api}", ["/"], "git.example.com/acme/api")
}

test_27_repo if {
	not glob.match("git.example.com/acme/{web,api}", ["/"], "git.example.com/acme/app")
}

test_28_pack if {
	glob.match("java@*", null, "java@21")
}

test_29_pack if {
	not glob.match("java@*", null, "javascript@1")
}

test_30_pack if {
	glob.match("java@1.*", null, "java@1.8.0")
}

test_31_pack if {
	glob.match("*", null, "tools/lint@1.2")
}

test_32_pack if {
	glob.match("node@2?", null, "node@20")
}

test_33_pack if {
	not glob.match("node@{18,20}", null, "node@22")
}

test_34_pack if {
	not glob.match("java@*", null, "Java@21")
}
