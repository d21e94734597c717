package handlers

import (
	"testing"
	"time"

	"ppportal/ppapi"
)

func TestEnvIndexMemoReusesOnlyTheSameList(t *testing.T) {
	var m envIndexMemo
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a := []ppapi.Environment{{Name: "a"}, {Name: "b"}}
	b := append([]ppapi.Environment(nil), a...) // equal content, another list

	ia := m.index(a, now)
	if m.index(a, now.Add(time.Second)) != ia {
		t.Error("the same list was indexed twice")
	}
	if m.index(b, now) == ia {
		t.Error("another list with equal content got the first list's index")
	}
	if m.index(a[:1], now) == ia {
		t.Error("a shorter view of the list got the whole list's index")
	}
	if m.index(a, now.Add(envIndexMemoTTL+time.Second)) == ia {
		t.Error("an index older than the memo's lifetime was reused")
	}
	for i := 0; i < 3*envIndexMemoSize; i++ {
		m.index(make([]ppapi.Environment, 1), now)
	}
	if n := len(m.entries); n > envIndexMemoSize {
		t.Errorf("memo holds %d lists, want at most %d", n, envIndexMemoSize)
	}
}
