package command

import (
	"io"
	"os"

	"medispatcher/loadgen"
)

// writeReport prints the report (text or --json) and writes --json-out.
func writeReport(rep *loadgen.Report, o *runOptions, stdout io.Writer) error {
	if o.jsonOut != "" {
		if err := writeJSONFile(rep, o.jsonOut); err != nil {
			return err
		}
	}
	if o.asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}

func writeJSONFile(rep *loadgen.Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = rep.WriteJSON(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
