package main

import "errors"

func asExit(err error, target **exitError) bool { return errors.As(err, target) }
