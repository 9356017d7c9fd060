package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sekisho/sekisho/internal/apiclient"
	"github.com/sekisho/sekisho/internal/controlplane"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/reencrypt"
)

func newEncryptionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encryption",
		Short: "See and rotate the keys stored objects are encrypted with",
	}
	cmd.AddCommand(newEncryptionStatusCommand(), newEncryptionRotateCommand())
	return cmd
}

func encryptionStatus(ctx context.Context, c *apiclient.Client) (*reencrypt.Status, error) {
	var st reencrypt.Status
	if err := c.Do(ctx, "GET", controlplane.EncryptionStatusPath, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func newEncryptionStatusCommand() *cobra.Command {
	var (
		cf     clientFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show, per resource and key, how many stored objects each key sealed",
		Long: `Show, for each resource the encryption configuration names, which key seals new
writes, how many stored objects each key sealed, how many are stale (sealed by
another than the writer, waiting to be re-encrypted) and how many are still
plaintext; then the progress of re-encryption. The server reads only the
stored values' prefixes: nothing is decrypted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			st, err := encryptionStatus(cmd.Context(), c)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			case "table":
				printEncryptionStatus(cmd.OutOrStdout(), st)
				return nil
			}
			return fmt.Errorf("--output %q: want table or json", output)
		},
	}
	cf.bind(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func printEncryptionStatus(w io.Writer, st *reencrypt.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE\tWRITER\tOBJECTS\tSTALE\tPLAINTEXT\tBY KEY")
	for _, r := range st.Resources {
		var keys []string
		for _, k := range slices.Sorted(maps.Keys(r.Keys)) {
			keys = append(keys, fmt.Sprintf("%s=%d", k, r.Keys[k]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Resource, r.Writer, r.Objects, r.Stale, r.Plaintext, strings.Join(keys, " "))
	}
	tw.Flush()
	p := st.Reencryption
	switch {
	case p.Running:
		fmt.Fprintf(w, "\nre-encrypting %s: %d of %d objects read, %d rewritten, %.0f/s, about %s left\n",
			p.Resource, p.Scanned, p.Objects, p.Rewritten, p.PerSecond, p.Remaining.Round(time.Second))
	case p.Error != "":
		fmt.Fprintf(w, "\nre-encryption stopped at %s: %s\n", p.Finished.Format(time.RFC3339), p.Error)
	case !p.Finished.IsZero():
		fmt.Fprintf(w, "\nlast re-encryption pass: done at %s, %d objects read, %d rewritten in %s",
			p.Finished.Format(time.RFC3339), p.Scanned, p.Rewritten, p.Finished.Sub(p.Started).Round(time.Millisecond))
		if p.Unreadable > 0 {
			fmt.Fprintf(w, ", %d unreadable (see the server log)", p.Unreadable)
		}
		fmt.Fprintln(w)
	}
}

func newEncryptionRotateCommand() *cobra.Command {
	var (
		cf      clientFlags
		config  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new key, re-encrypt every object with it, and retire the old key",
		Long: `Rotate the encryption keys with no restart:
  1. a new random key becomes the writer of each resource list written by aesgcm,
     aescbc or secretbox, and the key before it stays as a reader;
  2. the server reloads the file and re-encrypts every object the old key sealed;
  3. once nothing uses it, the old key is removed from the file.
The server must run with --encryption-provider-config-automatic-reload, as
sekisho up does. The file is rewritten in place (0600); comments are not kept.
Interrupted, it leaves the old key as a reader: run it again, or retire the old
key by hand once "sekisho encryption status" shows nothing uses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return rotate(ctx, cmd.OutOrStdout(), c, config)
		},
	}
	cf.bind(cmd.Flags())
	cmd.Flags().StringVar(&config, "config", filepath.Join(defaultDataDir(), controlplane.EncryptionConfigFile), "the server's --encryption-provider-config")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long, leaving the old key as a reader")
	return cmd
}

// rotate adds a key, waits for the server to load it and to re-encrypt
// what the old key sealed, then retires the old key and waits for the
// server to load that.
func rotate(ctx context.Context, out io.Writer, c *apiclient.Client, config string) error {
	if _, err := encryptionStatus(ctx, c); err != nil {
		return fmt.Errorf("the server's encryption status: %w", err)
	}
	rot, err := encryption.RotateFile(config, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s now writes; %s reads until nothing uses it\n", config, strings.Join(rot.Added, ", "), strings.Join(rot.Replaced, ", "))
	loaded := time.Now().Add(time.Minute)
	var last *reencrypt.Status
	done := func(st *reencrypt.Status) (bool, error) {
		for _, r := range st.Resources {
			if !slices.Contains(rot.Replaced, r.Writer) && !slices.Contains(rot.Added, r.Writer) {
				continue
			}
			if slices.Contains(rot.Replaced, r.Writer) {
				if time.Now().After(loaded) {
					return false, fmt.Errorf("the server has not loaded %s in a minute: is it running with --encryption-provider-config-automatic-reload? The new key stays; nothing is lost", config)
				}
				return false, nil
			}
			for _, old := range rot.Replaced {
				if r.Keys[old] > 0 {
					return false, nil
				}
			}
		}
		return true, nil
	}
	if err := waitStatus(ctx, c, &last, done); err != nil {
		return err
	}
	fmt.Fprintf(out, "no stored object uses %s any more\n", strings.Join(rot.Replaced, ", "))
	if err := encryption.RetireFile(config, rot.Replaced); err != nil {
		return err
	}
	retired := func(st *reencrypt.Status) (bool, error) {
		for _, r := range st.Resources {
			for _, old := range rot.Replaced {
				if slices.Contains(r.Readers, old) {
					return false, nil
				}
			}
		}
		return true, nil
	}
	if err := waitStatus(ctx, c, &last, retired); err != nil {
		return fmt.Errorf("retiring %s: %w (the server refuses a file that drops a key still in use: its log says why)", strings.Join(rot.Replaced, ", "), err)
	}
	fmt.Fprintf(out, "retired %s\n", strings.Join(rot.Replaced, ", "))
	return nil
}

// waitStatus polls the server's encryption status until done says so.
func waitStatus(ctx context.Context, c *apiclient.Client, last **reencrypt.Status, done func(*reencrypt.Status) (bool, error)) error {
	for {
		st, err := encryptionStatus(ctx, c)
		if err == nil {
			*last = st
			ok, err := done(st)
			if err != nil || ok {
				return err
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			}
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
