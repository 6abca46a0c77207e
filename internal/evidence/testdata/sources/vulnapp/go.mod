module example.com/vulnapp

go 1.26

require github.com/google/uuid v1.3.0 // indirect
