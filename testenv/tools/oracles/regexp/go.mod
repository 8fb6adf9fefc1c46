module hadr.dev/testenv/oracles/regexp

go 1.26.0
