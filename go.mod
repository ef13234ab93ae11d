module github.com/kclgo/kcl

go 1.26.0
