package bucket

import "testing"

func BenchmarkReserveUnlimited(b *testing.B) {
	bk := New(0, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bk.Reserve()
	}
}

func BenchmarkReserveLimited(b *testing.B) {
	bk := New(1e12, 1<<30)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bk.Reserve()
	}
}
