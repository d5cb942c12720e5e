//go:build tools

// Package tools pins the modules the project builds on until every one of
// them is imported by real code; go mod tidy keeps their go.sum entries.
package tools

import (
	_ "github.com/infracloudio/msbotbuilder-go/core"
	_ "github.com/infracloudio/msbotbuilder-go/schema"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/rs/zerolog"
	_ "github.com/sashabaranov/go-openai"
	_ "github.com/stretchr/testify/assert"
	_ "github.com/stretchr/testify/require"
	_ "go.mau.fi/whatsmeow"
	_ "go.mau.fi/whatsmeow/proto/waE2E"
	_ "go.mau.fi/whatsmeow/store/sqlstore"
	_ "go.mau.fi/whatsmeow/types/events"
	_ "github.com/golang-jwt/jwt/v4"
)
