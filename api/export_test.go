package api

// Routes returns the method and path of every route of the management API,
// for tests that must cover them all.
func (s *Server) Routes() [][2]string {
	var out [][2]string
	for _, r := range s.engine.Routes() {
		out = append(out, [2]string{r.Method, r.Path})
	}
	return out
}
